"""The tool that builds the decisions' preset dictionary, on a small simulated city."""
import asyncio
import zlib

from services.triage.domain import state as S
from services.triage.entrypoints import decision_dictionary as tool


def test_a_dictionary_built_from_simulated_decisions_packs_other_decisions_smaller():
    texts = asyncio.run(tool.decisions(600, seed=3))
    held_out = asyncio.run(tool.decisions(300, seed=4))
    assert len(texts) > 300 and held_out
    zdict = tool.build(texts)
    assert 0 < len(zdict) <= tool.WINDOW
    assert tool.packed_size(held_out, zdict) < 0.6 * tool.packed_size(held_out, b" ")
    z = zlib.compressobj(zdict=zdict)
    assert zlib.decompressobj(zdict=zdict).decompress(z.compress(held_out[0]) + z.flush()) == held_out[0]


def test_the_shipped_dictionary_is_the_one_that_packs():
    assert S.ZDICT is S.DICTIONARIES["z2"] and len(S.ZDICT) <= tool.WINDOW
    text = '{"decision_id": "d1"}'
    assert S.unpack(S.pack(text)) == text
