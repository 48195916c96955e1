"""Addresses as events carry them: block-level, and keyed so that calls at the same block or
intersection share a location key (`l_` + keyed hex of the normalised address).

Every intake path (HTTP, batch, EIDO, the raw topic, replay) computes the key here, from the address as
the source gave it, so the key must not depend on how a source spells or orders an address:

    "1234 rue Saint-Louis", "1200 bloc Saint-Louis rue" (EIDO: RD then STS), "1200, RUE ST-LOUIS",
    "dépanneur, 1250, rue Saint-Louis, Terrebonne", "1234 Saint-Louis Street"   → "1200 RUE ST LOUIS"

What the key keeps: the block (civic number rounded down to the hundred) and the street — its generic
(street type: French and English spellings and abbreviations are one code, before or after the name), its
specific name (no accents, case, hyphens or punctuation; Saint/St → ST, Sainte/Ste → STE; leading
particles de/du/des/la/le/l'/d' dropped; 1re/1st → 1) and its direction (Est/E/East → E...). What it drops:
a place name before the civic number, and everything after the street (city, province, postal code,
apartment): not every source sends them, and a key that depends on them splits one place in two.
Consequence: the same block of a same-named street in two municipalities served by one deployment shares
a key. An intersection is its streets, each normalised so, in sorted order. An address that cannot be read
as a civic address or an intersection (a landmark, "geo lat,lon") is keyed by its whole normalised text.
"""
from __future__ import annotations

import re

from unidecode import unidecode

from services.intake.domain.identity import keyed_hex

_SPACES = re.compile(r"\s+")
_BLOCK = re.compile(r"\b(BLOCK|BLOC)\b", re.IGNORECASE)
# a civic number opening the address or one of its comma-separated parts ("dépanneur, 1234, rue ...")
_CIVIC = re.compile(r"(^|,\s*)(\d+)[A-Za-z]?(?:\s*[-–]\s*\d+[A-Za-z]?)?\s*,?\s+(?=\S)")
_INTERSECTION = re.compile(r"\s*(?:/|&|(?:^|\s)(?:ET|AND|COIN|CORNER(?:\s+OF)?)(?:\s|$))\s*", re.IGNORECASE)
_UNKNOWN = {"", "UNKNOWN", "<UNKNOWN>", "INCONNU", "INCONNUE", "N/A", "NA", "-"}

# the key's view of one part: a civic number (with an optional range, suffix and "block (of)") and the rest
_NUMBERED = re.compile(r"^(\d+)[A-Z]?(?:\s*-\s*\d+[A-Z]?)?(?:\s+(?:BLOCK|BLK)(?:\s+OF)?)?(?:\s+(.*))?$")
_UNIT = re.compile(r"(?:#|\b(?:APP|APPT|APT|APPARTEMENT|UNITE|UNIT|SUITE)\b).*$")
_WORD = re.compile(r"[A-Z0-9]+")
_ORDINAL = re.compile(r"^(\d+)(?:ER|ERE|RE|E|EME|ST|ND|RD|TH)$")

# street types (generics): every spelling → one code. French/English pairs that name the same street in
# Québec (rue/street, chemin/road, croissant/crescent...) share the code; see Canada Post's street types
# and the Commission de toponymie's generics. "ST" is Street only after a name ("Main St"); before one,
# it is Saint ("St-Louis").
_GENERICS = {
    "RUE": ("RUE", "STREET", "STR"),
    "AV": ("AVENUE", "AV", "AVE"),
    "BOUL": ("BOULEVARD", "BOUL", "BLVD", "BD"),
    "CH": ("CHEMIN", "CH", "ROAD", "RD"),
    "MTEE": ("MONTEE", "MTEE"),
    "PL": ("PLACE", "PL"),
    "RANG": ("RANG", "RG"),
    "RTE": ("ROUTE", "RTE"),
    "CROIS": ("CROISSANT", "CROIS", "CRESCENT", "CRES"),
    "COTE": ("COTE",),
    "TSSE": ("TERRASSE", "TSSE", "TERRACE", "TERR"),
    "PROM": ("PROMENADE", "PROM", "DRIVE", "DR"),
    "IMP": ("IMPASSE", "IMP"),
    "ALLEE": ("ALLEE",),
    "CARRE": ("CARRE", "SQUARE", "SQ"),
    "CERCLE": ("CERCLE", "CIRCLE", "CIR"),
    "COUR": ("COUR", "COURT", "CRT", "CT"),
    "AUT": ("AUTOROUTE", "AUT", "HIGHWAY", "HWY"),
    "PKY": ("PARKWAY", "PKWY", "PKY"),
    "WAY": ("WAY",),
    "LANE": ("LANE", "LN"),
}
_GENERIC = {spelling: code for code, spellings in _GENERICS.items() for spelling in spellings}
# before the name, only the generics a source writes there (French, and a few English ones): "Dr-Penfield
# avenue" is not a drive, "Court Street" not a court
_LEADING = {s for s in _GENERIC if s not in {"STREET", "STR", "ROAD", "RD", "CRESCENT", "CRES", "TERRACE", "TERR",
                                             "DRIVE", "DR", "SQUARE", "SQ", "CIRCLE", "CIR", "COURT", "CRT", "CT",
                                             "PARKWAY", "PKWY", "PKY", "WAY", "LANE", "LN"}}
_DIRECTIONS = {"N": "N", "NORD": "N", "NORTH": "N", "S": "S", "SUD": "S", "SOUTH": "S", "E": "E", "EST": "E",
               "EAST": "E", "O": "O", "OUEST": "O", "W": "O", "WEST": "O"}
_LEADING_DIRECTIONS = {"N", "NORTH", "S", "SOUTH", "E", "EAST", "W", "WEST"}  # "W Cellular Street"; not O (O'Neil)
_SAINTS = {"SAINT": "ST", "ST": "ST", "SAINTE": "STE", "STE": "STE"}
_PARTICLES = {"DE", "DU", "DES", "LA", "LE", "LES", "L", "D", "OF", "THE"}


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
    """'1234 rue Principale' → '1200 bloc rue Principale' (also after a place name: 'dépanneur, 1234, rue
    Principale' → 'dépanneur, 1200 bloc rue Principale'). Intersections and addresses already at block level
    stay as given; the exact civic number never leaves intake."""
    text = clean(address)
    if _BLOCK.search(text) or "/" in text or text.lower().startswith("geo "):
        return text
    m = _CIVIC.search(text)
    if not m:
        return text
    return f"{text[:m.start(2)]}{int(m.group(2)) // 100 * 100} bloc {text[m.end():]}"


def street_key(text: str) -> str:
    """One street, without civic number, as the key spells it: 'Saint-Louis rue' → 'RUE ST LOUIS',
    'W Cellular Street' → 'RUE CELLULAR O', 'avenue de la 1re' → 'AV 1'."""
    words = _WORD.findall(_UNIT.sub("", unidecode(text).upper()))
    generic = direction = None
    if len(words) > 1 and words[0] in _LEADING_DIRECTIONS:
        direction = _DIRECTIONS[words.pop(0)]
    if len(words) > 1 and words[0] in _LEADING:
        generic = _GENERIC[words.pop(0)]
    if len(words) > 1 and words[-1] in _DIRECTIONS and direction is None:
        direction = _DIRECTIONS[words.pop()]
    if generic is None and len(words) > 1 and (words[-1] in _GENERIC or words[-1] == "ST"):
        generic = _GENERIC.get(words.pop(), "RUE")
    if len(words) > 1 and words[-1] in _DIRECTIONS and direction is None:
        direction = _DIRECTIONS[words.pop()]
    name = [_SAINTS.get(w) or (m.group(1) if (m := _ORDINAL.match(w)) else w) for w in words]
    while len(name) > 1 and name[0] in _PARTICLES:
        name.pop(0)
    return " ".join([*([generic] if generic else []), *name, *([direction] if direction else [])])


def _intersection(text: str) -> list[str]:
    return [p for p in (clean(p) for p in _INTERSECTION.split(text)) if p]


def normalise_address(address: str) -> str:
    """The text the location key is computed from: '<block> <street>' for a civic address, the streets in
    sorted order for an intersection, else the whole address without accents, case or punctuation."""
    text = clean(unidecode(address).upper())
    if text.startswith("GEO "):
        return text
    parts = [clean(p) for p in re.split(r"[,;]", text) if clean(p)]
    for i, part in enumerate(parts):
        m = _NUMBERED.match(part.replace("BLOC ", "BLOCK ").replace("–", "-"))
        if not m:
            continue
        street = m.group(2) or (parts[i + 1] if i + 1 < len(parts) else "")
        if len(_intersection(street)) > 1:
            break
        key = street_key(street)
        if key:
            return f"{int(m.group(1)) // 100 * 100} {key}"
    for part in parts:
        streets = _intersection(part)
        if len(streets) > 1:
            return " / ".join(sorted({street_key(s) or s for s in streets}))
    for part in parts:  # a street without a number ("dépanneur, rue de la Fabrique"): the street
        words = _WORD.findall(part)
        if len(words) > 1 and (words[0] in _LEADING or words[-1] in _GENERIC):
            return street_key(part)
    return " ".join(_WORD.findall(text))


def location_key(secret: str, address: str) -> str:
    if is_unknown(address):
        raise AddressError("adresse inconnue ou vide")
    return "l_" + keyed_hex(secret, f"location|{normalise_address(address)}", 32)
