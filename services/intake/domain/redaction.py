"""Free text stays home: what a call or a referral narrative says about who someone is never leaves
intake. Before a narrative becomes an event's `summary`, `redact` replaces

- the names of the persons on the call (accents, case, hyphens and near-duplicate spellings alike:
  "Tremblay", "TREMBLAY", "Trembley", "Tremblay-Gagnon") and a name after a title ("Mme Gagnon") by `[nom]`;
- birth dates: the persons' own in any common format (1984-03-12, 12/03/1984, 12 mars 1984), any date
  after "né le", "DDN"…, and any full date older than ten years (in a crisis narrative, a birth date) by
  `[date de naissance]`; recent dates ("depuis le 3 mars") stay;
- phone numbers (libphonenumber, region CA; also a local 555-1234) by `[téléphone]`;
- Québec health-insurance numbers (RAMQ: 4 letters, 8 digits, with or without spaces) by `[NAM]`;
- e-mail addresses by `[courriel]`; a CAD person id of a person on the call by `[identifiant]`;
- civic numbers: "1234 rue Principale" becomes "1200 bloc rue Principale", the block form intake already
  gives event addresses (services/intake/domain/locations.py).

Pure: no database, no network. The original narrative stays in intake's database (intake_narratives),
readable by the roles that read identities, each read audited."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from datetime import date
from typing import Iterable, Protocol

import phonenumbers
from rapidfuzz.distance import DamerauLevenshtein
from unidecode import unidecode

NAME = "[nom]"
BIRTH_DATE = "[date de naissance]"
PHONE = "[téléphone]"
NAM = "[NAM]"
EMAIL = "[courriel]"
IDENTIFIER = "[identifiant]"

# A full date at least this many years before the call is taken for a birth date.
OLD_DATE_YEARS = 10


class NamedPerson(Protocol):
    first_name: str | None
    last_name: str | None
    birth_date: date | None


# --- the persons on the call ------------------------------------------------------------------------------

# Parts of compound names that are not names on their own ("Gagnon de la Fontaine", "St-Pierre").
PARTICLES = frozenset({"d", "da", "de", "del", "della", "der", "des", "di", "du", "l", "la", "le", "les", "van",
                       "von", "den", "st", "ste", "saint", "sainte", "mc", "mac", "jr", "sr", "et", "y"})
# Ordinary French words that are also Québec names: written in lower case, with the word's own accents,
# they are the word ("à côté", "un véhicule blanc"), not the person.
COMMON_WORDS = frozenset({
    "ange", "aime", "blanc", "boucher", "bois", "brun", "cote", "constant", "desire", "fontaine", "france",
    "gagne", "grand", "houle", "lac", "marchand", "marie", "martin", "meunier", "noir", "page", "petit",
    "pierre", "poirier", "prudent", "richard", "riviere", "rose", "roux", "vallee", "leger", "lebel", "juste",
    "clement", "aubin", "moreau", "paris", "germain", "vincent", "bonheur", "lachance", "labonte", "jolie",
})
_NAME_SPLIT = re.compile(r"[\s\-‐‑‒–—'’`´.,_/]+")
# A word of the narrative: letters, joined by hyphens or apostrophes ("Tremblay-Gagnon", "qu'Éric").
_WORD = re.compile(r"[^\W\d_]+(?:[-‐‑'’][^\W\d_]+)*")
_PART = re.compile(r"[^\W\d_]+")
ELISIONS = frozenset({"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"})


def fold(text: str) -> str:
    """Accents and case do not matter: 'Côté' → 'cote'."""
    return unidecode(text).lower()


def _strip_accents_only(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@dataclass(frozen=True)
class NameToken:
    folded: str      # 'cote'
    casefolded: str  # 'côté' (with its accents)
    whole: bool      # the whole first or last name ('Tremblay'), not a part of one ('Jean' of 'Jean-François')


def full_names(persons: Iterable[NamedPerson]) -> set[str]:
    """Each first and last name whole, folded and without separators ('saint pierre')."""
    return {" ".join(fold(t) for t in _NAME_SPLIT.split(part) if t)
            for p in persons for part in (getattr(p, "first_name", None), getattr(p, "last_name", None)) if part}


def name_tokens(persons: Iterable[NamedPerson]) -> list[NameToken]:
    out: dict[str, NameToken] = {}
    for p in persons:
        for part in (getattr(p, "first_name", None), getattr(p, "last_name", None)):
            if not part:
                continue
            pieces = [t for t in _NAME_SPLIT.split(part.strip()) if t]
            kept = [t for t in pieces if len(fold(t)) >= 2 and fold(t) not in PARTICLES]
            chosen = kept or pieces  # a name made only of a particle ("Le") is still a name
            for t in chosen:
                f = fold(t)
                if f and (f not in out or (len(chosen) == 1 and not out[f].whole)):
                    out[f] = NameToken(f, t.casefold(), len(chosen) == 1)
    return list(out.values())


def _allowed_edits(name: str) -> int:
    """How far a spelling may be from a name and still be that name: short names exactly, then one
    typo, two for long names."""
    n = len(name)
    return 0 if n <= 4 else 1 if n <= 9 else 2


STRONG, WEAK = 2, 1


def _matches(word: str, w: str, token: NameToken) -> int:
    """Whether `word` of the narrative (`w`: folded) is the name `token`: STRONG; WEAK for a common word
    in lower case that is also the name ('côté'): a name only beside another name ('mélodie côté'); 0."""
    lower = word.islower()
    if lower:
        # In lower case, a word with accents of its own that the name has not is that word: 'côte' is not
        # 'Côté', 'marié' is not 'Marie'; a common word is that word ('à côté', 'un véhicule blanc').
        accented = _strip_accents_only(word) != word
        if accented and word.casefold() != token.casefolded:
            return 0
        if w in COMMON_WORDS:
            return WEAK if w == token.folded else 0
    if w == token.folded:
        return STRONG
    k = _allowed_edits(token.folded)
    if k == 0 or w[0] != token.folded[0] or abs(len(w) - len(token.folded)) > k:
        return False
    if len(w) != len(token.folded) and len(token.folded) < 7:  # 'mari' is not 'Marie'
        return False
    if lower and len(token.folded) < 7:  # 'marin' is not 'Morin'; 'trembley' is 'Tremblay'
        return False
    return STRONG if DamerauLevenshtein.distance(w, token.folded, score_cutoff=k) <= k else 0


# --- detectors: each gives (start, end, replacement) over the original text ---------------------------------

Span = tuple[int, int, str]

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}\b")
# RAMQ: 3 letters of the last name, 1 of the first name, YYMMDD (month + 50 for women), 2 digits.
_NAM = re.compile(r"(?<![\w])([^\W\d_]{4})[\s-]?(\d{2})[\s-]?(\d{2})[\s-]?(\d{2})[\s-]?(\d{2})(?![\w])")
_LOCAL_PHONE = re.compile(r"(?<![\w.\-/])\d{3}[-.]\d{4}(?![\w]|[-./]\d)")
_DIGIT_RUN = re.compile(r"\d(?:[ ().\-]{0,3}\d){6,}")

MONTHS = {
    "janvier": 1, "janv": 1, "jan": 1, "january": 1, "fevrier": 2, "fevr": 2, "fev": 2, "feb": 2, "february": 2,
    "mars": 3, "mar": 3, "march": 3, "avril": 4, "avr": 4, "apr": 4, "april": 4, "mai": 5, "may": 5,
    "juin": 6, "june": 6, "jun": 6, "juillet": 7, "juil": 7, "july": 7, "jul": 7, "aout": 8, "august": 8, "aug": 8,
    "septembre": 9, "sept": 9, "sep": 9, "september": 9, "octobre": 10, "oct": 10, "october": 10,
    "novembre": 11, "nov": 11, "november": 11, "decembre": 12, "dec": 12, "december": 12,
}
_MONTH = r"(?P<month>janv(?:ier)?|f[ée]v(?:r(?:ier)?)?|mars?|march|avr(?:il)?|apr(?:il)?|mai|may|juin|june?|" \
         r"juil(?:let)?|july?|ao[uû]t|aug(?:ust)?|sept?(?:embre|ember)?|oct(?:obre|ober)?|nov(?:embre|ember)?|" \
         r"d[ée]c(?:embre|ember)?|jan(?:uary)?|feb(?:ruary)?)\.?"
_ISO_DATE = re.compile(r"(?<![\w/.-])(?P<year>(?:19|20)\d{2})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
                       r"(?![\w]|[-/.]\d)")
_NUMERIC_DATE = re.compile(r"(?<![\w/.-])(?P<d>\d{1,2})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
                           r"(?![\w]|[-/.]\d)")
_DATES = [
    _ISO_DATE,
    _NUMERIC_DATE,
    re.compile(r"(?<![\w])(?P<d>1er|\d{1,2})(?:er)?[\s-]+" + _MONTH + r"[\s-]+(?P<year>\d{4})(?!\w)", re.IGNORECASE),
    re.compile(r"(?<![\w])" + _MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})(?!\w)", re.IGNORECASE),
]
# What says "this is a birth date": né(e) le, DDN, date de naissance, born, DOB.
_BIRTH_CUE = re.compile(r"(?:\bn[ée]e?s?\b|\bnaissance\b|\bDDN\b|\bD\.D\.N\b|\bDOB\b|\bborn\b)[\s:.,-]*"
                        r"(?:(?:le|en|the|on|du)\s+)?$", re.IGNORECASE)
_BIRTH_YEAR = re.compile(r"\b(?:n[ée]e?s?|born)\s+(?:en|in)\s+((?:19|20)\d{2})\b", re.IGNORECASE)

# Civic number before a street type; ambiguous types ("place", "côte", "st") only before a name or a number.
_STREET_TYPES = (r"rue|avenue|av|ave|boulevard|boul|blvd|bd|chemin|mont[ée]e|croissant|crois|impasse|imp|"
                 r"all[ée]e|terrasse|promenade|prom|carr[ée]|ruelle|sentier|square|autoroute|street|road|rd|"
                 r"drive|lane|crescent|highway")
_AMBIGUOUS_TYPES = r"place|pl|c[ôo]te|cours|voie|route|rte|rang|ch|st|dr|ct|court|way"
_CIVIC = re.compile(
    r"(?<![\w.,/-])(?:(?P<unit>\d{1,5})\s*[-–]\s*)?(?P<number>\d{1,6})[A-Za-z]?(?:\s*[-–]\s*(?P<suffix>\d{1,5}))?"
    r"(?P<sep>,?\s+)(?P<type>(?:" + _STREET_TYPES + r")\b\.?|(?:" + _AMBIGUOUS_TYPES +
    r")\b\.?(?=\s*(?:(?-i:[A-ZÀ-Ý0-9])|d['’]|de\b|du\b|des\b|la\b|l['’]|le\b)))", re.IGNORECASE)
# A title and the name after it: "Mme Gagnon", "monsieur Jean Roy", "M. TREMBLAY".
_TITLE = re.compile(r"(?<![\w])(?P<title>M\.|MM\.|Mme|Mmes|Mlle|Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Dre|Me"
                    r"|[Mm]onsieur|[Mm]adame|[Mm]ademoiselle|[Dd]octeure?|MONSIEUR|MADAME)\s+"
                    r"(?P<name>[A-ZÀ-Ý][^\W\d_]*(?:[-'’][A-ZÀ-Ý]?[^\W\d_]+)*)"
                    r"(?P<more>\s+[A-ZÀ-Ý][a-zà-ÿ]+(?:[-'’][A-ZÀ-Ý][a-zà-ÿ]+)*)?")
_TITLE_STOP = frozenset({"le", "la", "les", "est", "a", "et", "ou", "de", "du", "des", "au", "aux", "qui", "que",
                         "il", "elle", "on", "the", "is", "and"})
_MERGE_NAMES = re.compile(re.escape(NAME) + r"(?:[ \t\-]+" + re.escape(NAME) + r")+")


def _emails(text: str) -> list[Span]:
    return [(m.start(), m.end(), EMAIL) for m in _EMAIL.finditer(text)]


def _nams(text: str) -> list[Span]:
    out = []
    for m in _NAM.finditer(text):
        letters, yy, mm, dd, _ = m.groups()
        month, day = int(mm), int(dd)
        plausible = (1 <= month <= 12 or 51 <= month <= 62) and 1 <= day <= 31
        if (letters.isupper() and letters.isascii()) or plausible:
            out.append((m.start(), m.end(), NAM))
    return out


def _to_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _full_year(text: str, today: date) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def _date_candidates(m: re.Match, today: date) -> list[date]:
    """The dates a match may mean (12/03/1984 is the 12th of March, or December 3rd written month first)."""
    g = m.groupdict()
    if len(g["year"]) == 2 and g.get("sep") != "/":  # 3-4-12 is a score, 12/03/84 a date
        return []
    year = _full_year(g["year"], today)
    day = 1 if g["d"].lower().startswith("1er") else int(g["d"])
    if g.get("month"):
        month = MONTHS.get(fold(g["month"]).rstrip("."))
        return [d for d in [_to_date(year, month, day)] if d] if month else []
    month = int(g["m"])
    found = [_to_date(year, month, day)]
    if m.re is _NUMERIC_DATE:
        found.append(_to_date(year, day, month))
    return [d for d in found if d]


def _dates(text: str, births: set[date], today: date) -> list[Span]:
    out = []
    old = _to_date(today.year - OLD_DATE_YEARS, today.month, min(today.day, 28)) or today
    for pattern in _DATES:
        for m in pattern.finditer(text):
            candidates = _date_candidates(m, today)
            if not candidates:
                continue
            cue = bool(_BIRTH_CUE.search(text[max(0, m.start() - 40):m.start()]))
            if cue or any(d in births for d in candidates) or all(d <= old for d in candidates):
                out.append((m.start(), m.end(), BIRTH_DATE))
    for m in _BIRTH_YEAR.finditer(text):
        out.append((m.start(1), m.end(1), BIRTH_DATE))
    return out


def _phones(text: str) -> list[Span]:
    """libphonenumber over each run of at least 7 digits (it is slow on a whole text)."""
    out = []
    for run in _DIGIT_RUN.finditer(text):
        start = max(0, run.start() - 4)  # "+1 (", "tel:"
        window = text[start:run.end()]
        out += [(start + m.start, start + m.end, PHONE) for m in
                phonenumbers.PhoneNumberMatcher(window, "CA", leniency=phonenumbers.Leniency.VALID)]
    out += [(m.start(), m.end(), PHONE) for m in _LOCAL_PHONE.finditer(text)]
    return out


def block_of(number: int) -> int:
    return number // 100 * 100


def _civics(text: str) -> list[Span]:
    out = []
    for m in _CIVIC.finditer(text):
        numbers = [int(x) for x in (m.group("unit"), m.group("number"), m.group("suffix")) if x]
        civic = max(numbers)  # "5-1234 rue X": apartment 5 of 1234 (the civic number is the larger)
        out.append((m.start(), m.start("type"), f"{block_of(civic)} bloc "))
    return out


def _cad_ids(text: str, ids: Iterable[str]) -> list[Span]:
    out = []
    for cad in ids:
        if cad and len(cad) >= 3:
            for m in re.finditer(r"(?<![\w])" + re.escape(cad) + r"(?![\w])", text, re.IGNORECASE):
                out.append((m.start(), m.end(), IDENTIFIER))
    return out


def _titled_names(text: str) -> list[Span]:
    out = []
    for m in _TITLE.finditer(text):
        name = m.group("name")
        if fold(name) in _TITLE_STOP:
            continue
        end = m.end("name")
        more = m.group("more")
        if more and not name.isupper() and fold(more.strip()) not in _TITLE_STOP:
            end = m.end("more")
        out.append((m.start("name"), end, NAME))
    return out


@lru_cache(maxsize=4096)
def _initial(word: str) -> str:
    return fold(word[0])[:1]


PLACE_PREFIXES = frozenset({"saint", "sainte", "st", "ste", "notre", "mont", "pointe", "lac", "ile", "cap"})


def _best(word: str, w: str, tokens: list[NameToken], initials: set[str]) -> tuple[int, bool]:
    """(strength of the best match, whether a whole name matched)."""
    if not w or w[0] not in initials:
        return 0, False
    best, whole = 0, False
    for t in tokens:
        got = _matches(word, w, t)
        if got:
            best = max(best, got)
            whole = whole or (t.whole and got == STRONG)
    return best, whole


def _person_names(text: str, tokens: list[NameToken], whole: set[str]) -> list[Span]:
    if not tokens:
        return []
    initials = {t.folded[0] for t in tokens}
    found: list[tuple[int, int, int]] = []  # (start, end, strength)
    for m in _WORD.finditer(text):
        word = m.group()
        parts = list(_PART.finditer(word))
        if not any(_initial(p.group()) in initials for p in parts):
            continue
        folded = [fold(p.group()) for p in parts]
        scored = [_best(p.group(), f, tokens, initials) for p, f in zip(parts, folded)]
        strengths = [s for s, _ in scored]
        if not any(strengths):
            continue
        joined = " ".join(folded)
        if len(parts) > 1 and joined not in whole:
            if folded[0] in PLACE_PREFIXES and not strengths[0]:
                continue  # "rue Saint-Pierre", "Saint-Jérôme": a place, unless it is the person's own name
            named = [i for i, f in enumerate(folded) if not (i == 0 and f in ELISIONS)]
            if not all(strengths[i] for i in named) and not any(w for _, w in scored):
                continue  # "Jean-Talon" is not Jean-François; "Tremblay-Gagnon" is Tremblay
        start = m.start()
        first = parts[0]
        if len(parts) > 1 and not strengths[0] and folded[0] in ELISIONS and joined not in whole and \
                word[first.end():first.end() + 1] in "'’":
            start = m.start() + first.end() + 1  # keep the elision: "qu'Éric" → "qu'[nom]"
        found.append((start, m.end(), min(s for s in strengths if s) if len(parts) == 1 else max(strengths)))
    out = []
    for i, (start, end, strength) in enumerate(found):
        if strength == WEAK:  # a common word: a name only right beside another name
            before = i > 0 and found[i - 1][2] == STRONG and not text[found[i - 1][1]:start].strip()
            after = i + 1 < len(found) and found[i + 1][2] == STRONG and not text[end:found[i + 1][0]].strip()
            if not (before or after):
                continue
        out.append((start, end, NAME))
    return out


# --- the whole -------------------------------------------------------------------------------------------


def redact(text: str | None, persons: Iterable[NamedPerson] = (), *, today: date | None = None) -> str | None:
    """The narrative without who anyone is (see the module's docstring). `persons`: the persons on the
    call or the referral (first_name, last_name, birth_date, cad_person_id); `today`: the day the call was
    received (dates at least ten years older are birth dates)."""
    if not text:
        return text
    persons = list(persons)
    today = today or date.today()
    births = {p.birth_date for p in persons if getattr(p, "birth_date", None)}
    cad_ids = [getattr(p, "cad_person_id", None) for p in persons]
    tokens = name_tokens(persons)
    whole = full_names(persons)
    taken: list[Span] = []

    def take(spans: list[Span]) -> None:
        for span in sorted(spans):
            if not any(span[0] < t[1] and t[0] < span[1] for t in taken):
                taken.append(span)

    take(_emails(text))
    take(_nams(text))
    take(_cad_ids(text, cad_ids))
    take(_dates(text, births, today))
    take(_phones(text))
    take(_civics(text))
    take(_titled_names(text))
    take(_person_names(text, tokens, whole))
    if not taken:
        return text
    pieces, at = [], 0
    for start, end, replacement in sorted(taken):
        pieces.append(text[at:start])
        pieces.append(replacement)
        at = end
    pieces.append(text[at:])
    return _MERGE_NAMES.sub(NAME, "".join(pieces))
