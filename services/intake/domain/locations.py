"""Addresses as events carry them: block-level, and keyed so that calls at the same block or
intersection share a location key (`l_` + keyed hex of the normalised address)."""
from __future__ import annotations

import re

from unidecode import unidecode

from services.intake.domain.identity import keyed_hex

_SPACES = re.compile(r"\s+")
_HOUSE_NUMBER = re.compile(r"^(\d+)[A-Za-z]?(?:[-–]\d+)?\s*,?\s+(.*)$")
_BLOCK = re.compile(r"\b(BLOCK|BLOC)\b", re.IGNORECASE)
_INTERSECTION = re.compile(r"\s*(?:/|&|\bET\b|\bAND\b|\bCOIN\b)\s*", re.IGNORECASE)
_UNKNOWN = {"", "UNKNOWN", "<UNKNOWN>", "INCONNU", "INCONNUE", "N/A", "NA", "-"}


class AddressError(ValueError):
    pass


def clean(address: str) -> str:
    return _SPACES.sub(" ", address).strip()


def is_unknown(address: str | None) -> bool:
    """Blank, ' / ', '<UNKNOWN> / ' and the like: no usable place."""
    if address is None:
        return True
    parts = [p.strip().upper() for p in _INTERSECTION.split(clean(address))]
    return all(p in _UNKNOWN for p in parts)


def block_level(address: str) -> str:
    """'1234 rue Principale' → '1200 bloc rue Principale'. Intersections and addresses already at block
    level stay as given; the exact civic number never leaves intake."""
    text = clean(address)
    if _BLOCK.search(text) or "/" in text:
        return text
    m = _HOUSE_NUMBER.match(text)
    if not m:
        return text
    number = int(m.group(1))
    return f"{number // 100 * 100} bloc {m.group(2)}"


def normalise_address(address: str) -> str:
    """Upper case, no accents, one space, 'BLOC'/'BLOCK' alike, intersection streets in sorted order."""
    text = unidecode(block_level(address)).upper()
    text = _BLOCK.sub("BLOCK", text)
    text = re.sub(r"[.,;]", " ", text)
    parts = [clean(p) for p in _INTERSECTION.split(text) if clean(p)]
    if len(parts) > 1:
        return " / ".join(sorted(parts))
    return clean(text)


def location_key(secret: str, address: str) -> str:
    if is_unknown(address):
        raise AddressError("adresse inconnue ou vide")
    return "l_" + keyed_hex(secret, f"location|{normalise_address(address)}", 32)
