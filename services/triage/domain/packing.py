"""How a subject's kept decisions are held: each decision's JSON compressed against a preset dictionary of
typical decisions, as raw bytes.

A decision's JSON is ~1 KB, mostly the same labels, citations and field names every time. It is packed with
Zstandard (level 3) against `decision-zs1.zdict`, a dictionary trained on the decisions of a simulated city
(entrypoints/decision_dictionary.py): over another run of the simulator, ~130 bytes each in ~2 µs, where
deflate against its best preset dictionary (z2) gave ~195 bytes in ~17 µs
(`python -m services.triage.entrypoints.decision_dictionary --check`).

A dictionary is frozen once shipped, and what any shipped dictionary packed is read: a Zstandard frame names
its dictionary (its dictionary id), a zlib stream too (its DICTID, the dictionary's Adler-32), and the two
are told apart by their first bytes (Zstandard's magic number; a zlib header never starts with it). Text kept
before decisions were bytes (`z1:` and base64, or plain JSON from before packing) is read by
`packed_from_text`.
"""
from __future__ import annotations

import base64
import threading
import zlib
from pathlib import Path

import zstandard

_HERE = Path(__file__).parent
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# deflate dictionaries packed decisions before Zstandard did: read only
DEFLATE_DICTIONARIES = {name: (_HERE / f"decision-{name}.zdict").read_bytes() for name in ("z1", "z2")}
_DEFLATE_BY_CHECKSUM = {zlib.adler32(d): d for d in DEFLATE_DICTIONARIES.values()}
ZSTD_DICTIONARIES = {name: zstandard.ZstdCompressionDict((_HERE / f"decision-{name}.zdict").read_bytes())
                     for name in ("zs1",)}
PACKS_WITH = "zs1"
LEVEL = 3
PACKED_TEXT = "z1:"   # text packed with z1, as kept before decisions were bytes

_by_dict_id = {d.dict_id(): d for d in ZSTD_DICTIONARIES.values()}
_local = threading.local()   # a Zstandard context serves one thread at a time (the read API may use others)


def pack(decision_json: str | bytes) -> bytes:
    data = decision_json.encode() if isinstance(decision_json, str) else decision_json
    return _compressor().compress(data)


def unpack(packed: bytes) -> str:
    if packed[:4] == ZSTD_MAGIC:
        return _decompressor(zstandard.get_frame_parameters(packed).dict_id).decompress(packed).decode()
    z = zlib.decompressobj(zdict=_DEFLATE_BY_CHECKSUM[int.from_bytes(packed[2:6], "big")])
    return (z.decompress(packed) + z.flush()).decode()


def packed_from_text(stored: str) -> bytes:
    """A decision kept as text before decisions were bytes: `z1:` and the base64 of a deflate stream, or,
    from before packing, the decision's JSON itself."""
    if stored.startswith(PACKED_TEXT):
        return base64.b64decode(stored[len(PACKED_TEXT):])
    return pack(stored)


def new_compressor(dictionary: zstandard.ZstdCompressionDict) -> zstandard.ZstdCompressor:
    """What packs: no checksum (the changelog's records have their CRC), the size and the dictionary named."""
    return zstandard.ZstdCompressor(level=LEVEL, dict_data=dictionary, write_checksum=False,
                                    write_content_size=True, write_dict_id=True)


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_local, "compressor", None)
    if c is None:
        c = _local.compressor = new_compressor(ZSTD_DICTIONARIES[PACKS_WITH])
    return c


def _decompressor(dict_id: int) -> zstandard.ZstdDecompressor:
    found = getattr(_local, "decompressors", None)
    if found is None:
        found = _local.decompressors = {}
    d = found.get(dict_id)
    if d is None:
        d = found[dict_id] = zstandard.ZstdDecompressor(dict_data=_by_dict_id[dict_id])
    return d
