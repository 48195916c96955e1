"""The desk as the API and the page show it: the database's lists (desk.py) completed with what intake and
triage answer to the signed-in social worker's own token — birth dates for the age filter, sectors of the calls,
calls per month of her caseload, the person found by name. Shared by api.py and web.py."""
from __future__ import annotations

from datetime import date, datetime

from fastapi import Request

from services.infosocial.adapters.desk import BirthDates, Desk
from services.infosocial.domain import caseload as C
from services.infosocial.domain.desk import Filters, Page
from services.infosocial.adapters.identities import page_token
from dyade.clock import utcnow

AGE_PURPOSE = "infosocial: filtre par âge"
SECTORS_PER_REQUEST = 100


def desk(request: Request) -> Desk:
    return request.app.state.runtime.desk


def birth_dates(request: Request) -> BirthDates:
    def lookup(keys: list[str]) -> dict[str, date | None] | None:
        shown = request.app.state.identities.lookup(request, keys, AGE_PURPOSE)
        if shown.notice:
            return None
        return {k: shown.births.get(k) for k in keys}
    return lookup


def fill_sectors(request: Request) -> int:
    """Read from triage the sector of the open items that have none yet (bounded per request)."""
    d = desk(request)
    todo = d.sectors_to_read(SECTORS_PER_REQUEST)
    if not todo:
        return 0
    found = request.app.state.triage.sectors(page_token(request), [call for _, _, call in todo if call])
    return d.store_sectors(todo, found)


def suggestions(request: Request, f: Filters, today: date) -> Page:
    fill_sectors(request)
    return desk(request).suggestions(f, birth_dates=birth_dates(request) if f.age else None, today=today)


def referrals(request: Request, f: Filters, today: date) -> Page:
    fill_sectors(request)
    return desk(request).referrals(f, birth_dates=birth_dates(request) if f.age else None, today=today)


def caseload(request: Request, subject: str | None, page: int, per_page: int,
             now: datetime | None = None) -> tuple[Page, bool]:
    """Her followed persons, with calls per month before / since the first contact (from triage). The bool:
    triage did not answer for every person of the page."""
    now = now or utcnow()
    everyone = desk(request).caseload(subject)
    shown = everyone[(page - 1) * per_page: page * per_page]
    contacts = {}
    for p in shown:
        frame = p["frame"]
        contacts[p["person_key"]] = C.first_contact(p["contacts"], frame["written_at"] if frame else None)
    asks = [(k, fc.at) for k, fc in contacts.items() if fc.at is not None] + [(k, None) for k in contacts]
    answers = request.app.state.triage.windows(page_token(request), asks)
    missing = False
    items = []
    for p in shown:
        key, fc = p["person_key"], contacts[p["person_key"]]
        got_now, got_before = (key, None) in answers, fc.at is None or (key, fc.at) in answers
        rates = None
        if got_now and got_before:
            rates = C.rates(fc.at, now, answers.get((key, fc.at)) if fc.at else None, answers.get((key, None)))
        else:
            missing = True
        frame = p["frame"]
        items.append({"person_key": key,
                      "first_contact_at": fc.at.isoformat() if fc.at else None, "first_contact_source": fc.source,
                      "frame": None if frame is None else {k: v for k, v in frame.items() if k != "written_at"},
                      "referral": p["referral"],
                      "triage_known": bool(got_now and answers.get((key, None)) is not None),
                      "calls_per_month": None if rates is None else {
                          "before": rates.before, "before_calls": rates.before_calls,
                          "before_window_days": C.BEFORE_DAYS, "after": rates.after, "after_calls": rates.after_calls,
                          "after_window_days": rates.after_days, "too_early": rates.too_early}})
    return Page(items, len(everyone), page, per_page), missing


def search(request: Request, *, last_name: str, first_name: str | None, birth_date: date) -> dict:
    found = request.app.state.identities.search(request, last_name=last_name, first_name=first_name,
                                                birth_date=birth_date)
    out = {"found": found.found, "person_key": found.person_key, "match": found.match,
           "confidence": found.confidence, "name": found.name, "identity": found.identity, "notice": found.notice,
           "infosocial": None}
    if found.found and found.person_key:
        out["infosocial"] = desk(request).person_summary(found.person_key)
    return out
