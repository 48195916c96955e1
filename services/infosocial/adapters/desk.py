"""The social worker's desk, read side: paged, filtered, sorted lists of suggestions and referrals (server-side),
the counts of the panel, the sectors read from triage, her caseload. Identities and triage's counts are asked
by the caller (web/api) with her own token; this module only takes their answers."""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts import ReferralStatus
from dyade.db import unit_of_work
from services.infosocial.domain import suggestions as SG
from services.infosocial.domain.desk import ALL_STATES, OPEN_STATES, UNKNOWN_SECTOR, Filters, Page, age_band
from services.infosocial.domain.referrals import OPEN
from services.infosocial.adapters.models import Frame, Referral, Suggestion
from services.infosocial.adapters.queue import rows as referral_rows, suggestion_row

# Birth dates of person keys: {key: date | None} (None: no identity), or None when intake cannot answer.
BirthDates = Callable[[list[str]], "dict[str, date | None] | None"]
AGE_SCAN_MAX = 5000  # rows considered by an age filter (their birth dates are asked of intake)
OPEN_VALUES = [s.value for s in OPEN]


class Desk:
    def __init__(self, factory: sessionmaker):
        self.factory = factory

    # -- counts ---------------------------------------------------------------------------------------------
    def counts(self) -> dict:
        with unit_of_work(self.factory) as s:
            by_status = dict(s.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
            open_suggestions = s.scalar(select(func.count()).select_from(Suggestion)
                                        .where(Suggestion.state == SG.OPEN))
        return {"suggestions": open_suggestions or 0,
                "referrals_open": sum(n for st, n in by_status.items() if st in OPEN_VALUES),
                "referrals_by_status": {st.value: by_status.get(st.value, 0) for st in ReferralStatus}}

    # -- lists ------------------------------------------------------------------------------------------------
    def suggestions(self, f: Filters, *, birth_dates: BirthDates | None = None, today: date | None = None) -> Page:
        q = select(Suggestion)
        if f.state and f.state != ALL_STATES:
            q = q.where(Suggestion.state == f.state)
        q = _common(q, Suggestion, f)
        order = {"recentes": (Suggestion.last_seen_at.desc(),), "anciennes": (Suggestion.first_at,),
                 "appels": (Suggestion.calls.desc(), Suggestion.last_seen_at.desc())}.get(
            f.sort, (Suggestion.priority, Suggestion.last_seen_at.desc()))
        q = q.order_by(*order, Suggestion.suggestion_id)
        with unit_of_work(self.factory) as s:
            page = _page(s, q, Suggestion.suggestion_id, Suggestion.person_key, f, birth_dates, today)
            return Page([suggestion_row(x) for x in page.items], page.total, f.page, f.per_page, page.notice)

    def referrals(self, f: Filters, *, person_key: str | None = None, birth_dates: BirthDates | None = None,
                  today: date | None = None) -> Page:
        q = select(Referral)
        if f.state == OPEN_STATES:
            q = q.where(Referral.status.in_(OPEN_VALUES))
        elif f.state and f.state != ALL_STATES:
            q = q.where(Referral.status == f.state)
        if f.origin:
            q = q.where(Referral.origin == ("filed" if f.origin == "personnes" else "suggested"))
        if person_key:
            q = q.where(Referral.person_key == person_key)
        q = _common(q, Referral, f)
        order = {"recentes": (Referral.received_at.desc(),), "anciennes": (Referral.received_at,),
                 "mise_a_jour": (Referral.updated_at.desc(),)}.get(
            f.sort, (Referral.priority, Referral.received_at.desc()))
        q = q.order_by(*order, Referral.referral_id)
        with unit_of_work(self.factory) as s:
            page = _page(s, q, Referral.referral_id, Referral.person_key, f, birth_dates, today)
            return Page(referral_rows(s, list(page.items)), page.total, f.page, f.per_page, page.notice)

    def suggestions_of(self, person_key: str) -> list[dict]:
        with unit_of_work(self.factory) as s:
            return [suggestion_row(x) for x in s.scalars(
                select(Suggestion).where(Suggestion.person_key == person_key)
                .order_by(Suggestion.last_seen_at.desc()).limit(20))]

    def known_sectors(self) -> list[str]:
        with unit_of_work(self.factory) as s:
            found = set(s.scalars(select(Suggestion.sector).where(Suggestion.sector.is_not(None)).distinct()))
            found |= set(s.scalars(select(Referral.sector).where(Referral.sector.is_not(None)).distinct()))
        return sorted(found)

    def person_summary(self, person_key: str) -> dict:
        """What Info-social holds on a person (for the search result): frame, open referrals, open suggestion."""
        with unit_of_work(self.factory) as s:
            frame = s.scalars(select(Frame).where(Frame.person_key == person_key,
                                                  Frame.archived_at.is_(None))).first()
            refs = list(s.scalars(select(Referral).where(Referral.person_key == person_key)
                                  .order_by(Referral.received_at.desc()).limit(20)))
            waiting = s.scalars(select(Suggestion).where(Suggestion.person_key == person_key,
                                                         Suggestion.state == SG.OPEN)).first()
            return {"frame": None if frame is None else {
                        "frame_id": frame.frame_id, "active": bool(frame.active_version), "owner": frame.owner,
                        "review_due": frame.review_due.isoformat() if frame.review_due else None},
                    "referrals": referral_rows(s, refs),
                    "suggestion": suggestion_row(waiting) if waiting else None}

    # -- sectors, read from triage ---------------------------------------------------------------------------------
    def sectors_to_read(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """(kind "s"|"r", id, call id) of open suggestions and referrals whose call's sector is not read yet."""
        with unit_of_work(self.factory) as s:
            out = [("s", sid, call) for sid, call in s.execute(
                select(Suggestion.suggestion_id, Suggestion.latest_call_id)
                .where(Suggestion.state == SG.OPEN, Suggestion.sector_checked.is_(False))
                .order_by(Suggestion.priority, Suggestion.last_seen_at.desc()).limit(limit))]
            for rid, calls in s.execute(
                    select(Referral.referral_id, Referral.linked_call_ids)
                    .where(Referral.status.in_(OPEN_VALUES), Referral.sector_checked.is_(False))
                    .order_by(Referral.priority, Referral.received_at.desc()).limit(max(0, limit - len(out)))):
                out.append(("r", rid, calls[-1] if calls else ""))
            return out

    def store_sectors(self, todo: list[tuple[str, str, str]], found: dict[str, str | None]) -> int:
        """`found`: call id → sector (None: triage knows no sector for it). Calls not in `found` stay to read."""
        n = 0
        with unit_of_work(self.factory) as s:
            for kind, ident, call in todo:
                if call and call not in found:
                    continue
                row = s.get(Suggestion if kind == "s" else Referral, ident, with_for_update=True)
                if row is None or _call_of(row) != call:  # a later call came in meanwhile: read it next time
                    continue
                row.sector = (found.get(call) if call else None) or row.sector  # else the last one known
                row.sector_checked = True
                n += 1
        return n

    # -- caseload -----------------------------------------------------------------------------------------------------
    def caseload(self, subject: str | None) -> list[dict]:
        """Persons followed: an active frame (owned by `subject`), or an open referral (last moved by `subject`;
        `subject` None: the whole team's — every open referral someone handles). Most recently active first."""
        with unit_of_work(self.factory) as s:
            fq = select(Frame).where(Frame.archived_at.is_(None), Frame.active_version.is_not(None))
            rq = select(Referral).where(Referral.status.in_(OPEN_VALUES), Referral.handled_by.is_not(None))
            if subject is not None:
                fq, rq = fq.where(Frame.owner == subject), rq.where(Referral.handled_by == subject)
            frames = {f.person_key: f for f in s.scalars(fq)}
            open_refs: dict[str, Referral] = {}
            for r in s.scalars(rq.order_by(Referral.updated_at)):
                open_refs[r.person_key] = r  # the most recently moved one
            keys = set(frames) | set(open_refs)
            if not keys:
                return []
            contacts: dict[str, list[datetime | None]] = {}
            for key, at in s.execute(select(Referral.person_key, Referral.first_contact_at)
                                     .where(Referral.person_key.in_(keys))):
                contacts.setdefault(key, []).append(at)
            out = []
            for key in keys:
                f, r = frames.get(key), open_refs.get(key)
                active = max(x for x in (f.updated_at if f else None, r.updated_at if r else None) if x)
                out.append({"person_key": key, "contacts": contacts.get(key, []),
                            "frame": None if f is None else {"frame_id": f.frame_id, "owner": f.owner,
                                                             "written_at": f.created_at,
                                                             "review_due": f.review_due.isoformat()
                                                             if f.review_due else None},
                            "referral": None if r is None else {"referral_id": r.referral_id, "status": r.status,
                                                                "handled_by": r.handled_by},
                            "active_at": active})
            out.sort(key=lambda x: (x["active_at"], x["person_key"]), reverse=True)
            return out


def _call_of(row) -> str:
    """The call whose sector a suggestion or referral shows: a suggestion's latest, a referral's last linked."""
    if isinstance(row, Suggestion):
        return row.latest_call_id
    return (row.linked_call_ids or [""])[-1]


def _common(q, model, f: Filters):
    if f.criterion:  # a code of the vocabulary (parse() keeps no other): safe in a LIKE
        q = q.where(cast(model.criteria, String).like(f'%"{f.criterion}"%'))
    if f.sector == UNKNOWN_SECTOR:
        q = q.where(model.sector.is_(None))
    elif f.sector:
        q = q.where(model.sector == f.sector)
    return q


def _page(s: Session, q, id_col, key_col, f: Filters, birth_dates: BirthDates | None, today: date | None) -> Page:
    """One page of `q`. With an age filter, the birth dates of the candidates are asked (`birth_dates`), the
    candidates filtered, then paged."""
    if not f.age or birth_dates is None:
        total = s.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
        return Page(list(s.scalars(q.offset(f.offset).limit(f.per_page))), total, f.page, f.per_page)
    candidates = s.execute(q.with_only_columns(id_col, key_col).limit(AGE_SCAN_MAX)).all()
    births = birth_dates(list(dict.fromkeys(k for _, k in candidates)))
    if births is None:
        return Page([], 0, f.page, f.per_page, notice="age_unavailable")
    kept = [i for i, k in candidates if age_band(births.get(k), today or date.today()) == f.age]
    wanted = kept[f.offset:f.offset + f.per_page]
    model = id_col.class_
    found = {getattr(x, id_col.key): x for x in s.scalars(select(model).where(id_col.in_(wanted)))} if wanted else {}
    return Page([found[i] for i in wanted if i in found], len(kept), f.page, f.per_page)
