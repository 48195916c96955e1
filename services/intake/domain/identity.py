"""Who a call is about, as a pseudonymous key: normalisation of names and addresses, keyed hashes, and
the fuzzy comparison of near-duplicate spellings. Pure functions: no database, no network."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz
from unidecode import unidecode

# A near-duplicate spelling of a known person (same birth date) above this score is the same person.
FUZZY_THRESHOLD = 88.0

_SEPARATORS = re.compile(r"[-‐‑‒–—'’`´.,_/]+")
_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^a-z0-9 ]")


def normalise_name(*parts: str | None) -> str:
    """Accents, case, hyphens, apostrophes and name order do not matter: 'Tremblay, Jean-François'
    and 'jean francois TREMBLAY' both give 'francois jean tremblay'."""
    text = " ".join(p for p in parts if p)
    text = unidecode(text).lower()
    text = _SEPARATORS.sub(" ", text)
    text = _NOT_WORD.sub("", text)
    tokens = sorted(t for t in _SPACES.split(text) if t)
    return " ".join(tokens)


def keyed_hex(secret: str, message: str, length: int = 32) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:length]


@dataclass(frozen=True)
class Identity:
    """The normalised identity of a person as a source named them."""
    name: str  # normalised, tokens sorted; "" when only a CAD person id is known
    birth_date: date | None
    cad_person_id: str | None

    @property
    def has_name(self) -> bool:
        return bool(self.name)

    def name_fingerprint(self) -> str:
        return f"name|{self.name}|{self.birth_date.isoformat() if self.birth_date else '-'}"


def identity_of(first_name: str | None, last_name: str | None, birth_date: date | None,
                cad_person_id: str | None) -> Identity:
    cad = cad_person_id.strip() if cad_person_id else None
    return Identity(normalise_name(first_name, last_name), birth_date, cad or None)


def name_hash(secret: str, identity: Identity) -> str:
    """Keyed hash of the normalised name and birth date (what intake's identity table is keyed by)."""
    return keyed_hex(secret, identity.name_fingerprint(), 64)


def cad_hash(secret: str, cad_person_id: str) -> str:
    return keyed_hex(secret, f"cad|{cad_person_id}", 64)


def person_key_for(secret: str, fingerprint: str) -> str:
    """A new person's key: `p_` + keyed HMAC (hex) of what first identified them."""
    return "p_" + keyed_hex(secret, f"person|{fingerprint}", 32)


def referrer_key(secret: str, referrer_type: str, referrer_id: str) -> str:
    return "r_" + keyed_hex(secret, f"referrer|{referrer_type}|{normalise_name(referrer_id)}", 32)


def similarity(a: str, b: str) -> float:
    """0..100, insensitive to name order (both are already normalised and sorted)."""
    return float(fuzz.token_sort_ratio(a, b))


def best_fuzzy_match(name: str, candidates: list[tuple[str, str]],
                     threshold: float = FUZZY_THRESHOLD) -> tuple[str, float] | None:
    """Among (person_key, normalised name) of people with the same birth date, the closest spelling at or
    above the threshold, as (person_key, confidence 0..1). Ties go to the first candidate."""
    best: tuple[str, float] | None = None
    for key, other in candidates:
        score = similarity(name, other)
        if score >= threshold and (best is None or score > best[1] * 100):
            best = (key, score / 100)
    return best
