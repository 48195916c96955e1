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


def test_what_triage_packs_now_names_the_shipped_dictionary_that_packs_new_decisions_smaller_than_z1():
    held_out = asyncio.run(tool.decisions(300, seed=5))
    z1, z2 = S.DICTIONARIES["z1"], S.DICTIONARIES["z2"]
    assert tool.packed_size(held_out, z2) < 0.8 * tool.packed_size(held_out, z1)
    packed = S.pack(held_out[0].decode())
    assert int.from_bytes(packed[2:6], "big") == zlib.adler32(z2) and S.unpack(packed) == held_out[0].decode()
