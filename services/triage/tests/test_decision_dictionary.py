"""The tool that builds the decisions' preset dictionary, on a small simulated city, and what triage packs with."""
import asyncio

import zstandard

from services.triage.domain import packing
from services.triage.entrypoints import decision_dictionary as tool


def test_a_dictionary_trained_on_simulated_decisions_packs_other_decisions_smaller():
    texts = asyncio.run(tool.decisions(600, seed=3))
    held_out = asyncio.run(tool.decisions(300, seed=4))
    assert len(texts) > 300 and held_out
    trained = tool.build(texts, size=8192)
    assert 0 < len(trained) <= 8192
    plain = sum(len(zstandard.ZstdCompressor(level=packing.LEVEL).compress(t)) for t in held_out) / len(held_out)
    assert tool.packed_size(held_out, "trained", trained)[0] < 0.5 * plain


def test_triage_packs_with_the_shipped_zstd_dictionary_smaller_than_the_deflate_ones_and_names_it():
    held_out = asyncio.run(tool.decisions(300, seed=5))
    zs1, z2 = tool.packed_size(held_out, "zs1")[0], tool.packed_size(held_out, "z2")[0]
    assert zs1 < 0.8 * z2
    packed = packing.pack(held_out[0].decode())
    assert packed[:4] == packing.ZSTD_MAGIC
    assert zstandard.get_frame_parameters(packed).dict_id == packing.ZSTD_DICTIONARIES["zs1"].dict_id()
    assert packing.unpack(packed) == held_out[0].decode()
