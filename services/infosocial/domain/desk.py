"""The social worker's desk: what a list asks for (filters, sort, page) and age bands. Pure (no I/O).

Unknown filter values are dropped (the list is shown unfiltered on that point) rather than refused: the
filters come from links and forms of the page itself."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Mapping
from urllib.parse import urlencode

from dyade.contracts import Criterion, ReferralStatus
from services.infosocial.domain import suggestions as SG
from services.infosocial.domain.labels import AGE_BANDS, ORIGINS

PER_PAGE = 25
MAX_PER_PAGE = 100
SUGGESTION_SORTS = ("priorite", "recentes", "anciennes", "appels")
REFERRAL_SORTS = ("priorite", "recentes", "anciennes", "mise_a_jour")
OPEN_STATES, ALL_STATES = "ouvertes", "toutes"
UNKNOWN_SECTOR = "inconnu"


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    criterion: str | None = None
    sector: str | None = None     # a sector, or "inconnu" (no sector known)
    age: str | None = None        # AGE_BANDS
    origin: str | None = None     # referrals: ORIGINS
    sort: str = "priorite"
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def query(self, **change) -> str:
        """The query string of these filters with `change` applied (for the page's links)."""
        f = replace(self, **change)
        params = {"etat": f.state, "critere": f.criterion, "secteur": f.sector, "age": f.age, "origine": f.origin,
                  "tri": f.sort if f.sort != "priorite" else None, "page": f.page if f.page != 1 else None,
                  "par_page": f.per_page if f.per_page != PER_PAGE else None}
        return urlencode({k: v for k, v in params.items() if v not in (None, "")})

    @property
    def active(self) -> bool:
        return any((self.criterion, self.sector, self.age, self.origin))


def _int(value, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value)))
    except (TypeError, ValueError):
        return default


def parse(params: Mapping[str, str], *, kind: str) -> Filters:
    """`kind`: "suggestions" or "referrals". French parameter names (the page's), English ones accepted."""
    def get(fr: str, en: str) -> str | None:
        value = params.get(fr) or params.get(en)
        return value.strip() if isinstance(value, str) and value.strip() else None

    state, sort = get("etat", "state"), get("tri", "sort")
    if kind == "suggestions":
        states, sorts = (*SG.STATES, ALL_STATES), SUGGESTION_SORTS
        state = state if state in states else SG.OPEN
    else:
        states, sorts = (OPEN_STATES, ALL_STATES, *(s.value for s in ReferralStatus)), REFERRAL_SORTS
        state = state if state in states else OPEN_STATES
    criterion = get("critere", "criterion")
    sector = get("secteur", "sector")
    origin = get("origine", "origin")
    age = get("age", "age")
    return Filters(state=state, criterion=criterion if criterion in {c.value for c in Criterion} else None,
                   sector=sector[:40] if sector else None, age=age if age in AGE_BANDS else None,
                   origin=origin if kind == "referrals" and origin in ORIGINS else None,
                   sort=sort if sort in sorts else "priorite",
                   page=_int(get("page", "page"), 1, 1, 100_000),
                   per_page=_int(get("par_page", "per_page"), PER_PAGE, 1, MAX_PER_PAGE))


def age_band(birth: date | None, today: date) -> str:
    if birth is None:
        return "inconnu"
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return "mineur" if years < 18 else ("aine" if years >= 65 else "adulte")


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    per_page: int
    notice: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))
