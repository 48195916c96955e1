"""Times as people read them: in the organisation's time zone, labelled with it, in the reader's locale.

Instants stay UTC everywhere else (tables, JSON API, CSV); only the pages format them, with Babel (CLDR
data: `2026-12-01` and `1 déc. 2026` in fr-CA, `Dec 1, 2026` in English). The label names the zone the way a
reader says it — « heure de Montréal (HNE) », "Montréal time (EST)" — with the abbreviation of the instant
shown (HNE in winter, HAE in summer).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, get_timezone_location, get_timezone_name

# CLDR names a zone by its exemplar city, and Montréal's zone is an alias of Toronto's there.
CITY = {"America/Montreal": "Montréal", "America/Toronto": "Toronto", "America/Quebec": "Québec"}
TERRITORIES = {"fr": "CA", "en": "CA"}


def locale_for(lang: str, accept_language: str | None = None) -> Locale:
    """The reader's locale: the page's language (fr, en) with the region of the browser's first matching
    language (`en-US` → en_US), else Canada's (fr_CA, en_CA)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag.lower().startswith(lang + "_"):
            try:
                return Locale.parse(tag)
            except (ValueError, UnknownLocaleError):
                continue
    return Locale(lang, TERRITORIES.get(lang, "CA"))


def city_of(tz: ZoneInfo, locale: Locale) -> str:
    name = str(tz.key) if hasattr(tz, "key") else str(tz)
    if name in CITY:
        return CITY[name]
    try:
        return get_timezone_location(tz, locale=locale, return_city=True)
    except Exception:
        return name.rsplit("/", 1)[-1].replace("_", " ")


def zone_name(tz: ZoneInfo, locale: Locale) -> str:
    """« heure de Montréal » / "Montréal time": the zone, whatever the season (for a period)."""
    city = city_of(tz, locale)
    if locale.language == "fr":
        de = "d'" if city[:1].lower() in "aeiouyéèêàâîôûh" else "de "
        return f"heure {de}{city}"
    return f"{city} time"


def zone_label(tz: ZoneInfo, at: datetime, locale: Locale) -> str:
    """« heure de Montréal (HNE) » / "Montréal time (EST)", the abbreviation being that of `at` (HNE in
    winter, HAE in summer)."""
    try:
        abbr = get_timezone_name(at.astimezone(tz), "short", locale=locale)
    except Exception:
        abbr = at.astimezone(tz).tzname() or ""
    return f"{zone_name(tz, locale)} ({abbr})"


def day(value: date | datetime | None, tz: ZoneInfo, locale: Locale) -> str:
    """A day for reading: `1 déc. 2026` / `Dec 1, 2026` (an instant is first put in `tz`)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return format_date(value, "medium", locale=locale)


def moment(value: datetime | None, tz: ZoneInfo, locale: Locale) -> str:
    """An instant for reading, in `tz`: `1 déc. 2026, 10 h 04` / `Dec 1, 2026, 10:04 AM`."""
    if value is None:
        return "—"
    local = value.astimezone(tz)
    return f"{format_date(local.date(), 'medium', locale=locale)}, {format_time(local, 'short', locale=locale)}"


def month_label(month: str, locale: Locale) -> str:
    """`2026-12` → `déc. 2026` / `Dec 2026`."""
    return format_skeleton("yMMM", date(int(month[:4]), int(month[5:7]), 1), locale=locale)


def week_label(week: str, locale: Locale) -> str:
    """A week by its Monday, `2026-11-30` → `30 nov. 2026` (the week's first day)."""
    return format_date(date.fromisoformat(week), "medium", locale=locale)


def last_day(end: datetime | None, tz: ZoneInfo) -> date | None:
    """The last day included in a period whose end (exclusive) is `end`, local midnight."""
    return (end.astimezone(tz) - timedelta(seconds=1)).date() if end else None
