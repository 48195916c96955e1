"""What the field app shows: the catalogue's words (dyade.contracts.labels), where to go, local times."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dyade.contracts.labels import CATALOGUE
from dyade.contracts.vocabulary import CallCategory, Disposition, TriageLevel

LEVELS = CATALOGUE[TriageLevel]
CATEGORIES = {code: fr for code, (fr, _en) in CATALOGUE[CallCategory].items()}
DISPOSITIONS = {code: fr for code, (fr, _en) in CATALOGUE[Disposition].items()}

TARGETS = {
    "garde_sociale": "Intervenant·e social·e de garde",
    "superviseur_patrouille": "Superviseur·e de patrouille",
    "superviseur": "Superviseur·e",
}


def level_label(level: str | None, lang: str = "fr") -> str:
    if not level:
        return ""
    fr, en = LEVELS[TriageLevel(level)]
    return en if lang == "en" else fr


def local_datetime(at: datetime | None, tz: ZoneInfo) -> str | None:
    """`2026-11-24 14:32` in the organisation's time zone (what the dyad reads on the card)."""
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else None


def local_clock(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).strftime("%H:%M") if at else None


def geo_uri(lat: float | None, lon: float | None) -> str | None:
    """RFC 5870 `geo:` link (opens the phone's map app), only when both coordinates are known."""
    if lat is None or lon is None:
        return None
    return f"geo:{round(lat, 6)},{round(lon, 6)}"


def where(address: str | None, sector: str | None, lang: str = "fr") -> str:
    """One line: block-level address and sector (`Adresse inconnue · secteur S1` when there is none)."""
    unknown, word = ("Unknown address", "sector") if lang == "en" else ("Adresse inconnue", "secteur")
    return f"{address or unknown} · {word} {sector or '?'}"


FRAME_COMING = {"fr": "Fiche Info-social signalée par le triage, en cours de réception : elle s'affichera ici dès "
                      "son arrivée.",
                "en": "Info-social frame reported by triage, on its way: it will show here as soon as it arrives."}


def frame_coming(lang: str = "fr") -> str:
    return FRAME_COMING["en" if lang == "en" else "fr"]
