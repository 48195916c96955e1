"""Dispositions, frames and referrals. Pure functions over `Facts`."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from services.analytics.domain.facts import MONTREAL, Facts, aware, month_of

VOLUNTARY = "transport_volontaire"
FORCED = "transport_p38"
DISPOSITIONS = ("regle_sur_place", "transport_volontaire", "transport_p38", "arrestation", "refere",
                "refus_aide", "aucune_intervention", "autre")


def final_dispositions(facts: Facts) -> dict[str, tuple[str, datetime]]:
    """Each call's disposition: the one on its latest `call.updated` that carries a disposition."""
    out: dict[str, tuple[str, datetime]] = {}
    for u in facts.updates:
        if u.disposition:
            at = aware(u.occurred_at)
            if u.call_id not in out or at >= out[u.call_id][1]:
                out[u.call_id] = (u.disposition, at)
    return out


def _transport_share(counts: Counter) -> dict:
    transports = counts[VOLUNTARY] + counts[FORCED]
    return {"transports": transports,
            "voluntary_share": round(counts[VOLUNTARY] / transports, 4) if transports else None,
            "forced_share": round(counts[FORCED] / transports, 4) if transports else None}


def dispositions(facts: Facts, tz: ZoneInfo = MONTREAL) -> dict:
    """Calls by final disposition (see `final_dispositions`), overall and by month of the disposition
    (in `tz`, the organisation's time zone). voluntary_share = voluntary transports / (voluntary + P-38 transports);
    forced_share = P-38 transports / the same total."""
    finals = final_dispositions(facts)
    total = Counter(d for d, _ in finals.values())
    by_month: dict[str, Counter] = defaultdict(Counter)
    for disposition, at in finals.values():
        by_month[month_of(at, tz)][disposition] += 1
    return {
        "total": {d: total[d] for d in DISPOSITIONS if total[d]} | {d: n for d, n in total.items() if d not in DISPOSITIONS},
        "calls_with_disposition": sum(total.values()),
        **_transport_share(total),
        "by_month": [{"month": m, "counts": dict(sorted(c.items())), **_transport_share(c)}
                     for m, c in sorted(by_month.items())],
    }


# A frame change and the state it leaves the frame in. `consent_recorded` says nothing about freshness (any
# consent change, or the sweep lapsing an imminent-danger basis, stale frames included): the state stays.
FRAME_STATE_AFTER = {"approved": "current", "review_due": "review_due", "stale": "stale", "archived": None}
# At one instant and version, the order the sweep sends them in: a lapsed basis, then review_due, then stale.
_SAME_INSTANT = {"approved": 0, "consent_recorded": 1, "review_due": 2, "stale": 3, "archived": 4}


def frame_states(facts: Facts) -> dict:
    """Each frame's state after its `frame.changed` in time order (then by version): `approved` → current;
    `review_due` → current but its yearly review is due; `stale` → stale; `archived` → not counted;
    `consent_recorded` keeps the state the frame was in (a frame known only by it is not counted).
    Counts of frames (not persons)."""
    state: dict[str, str | None] = {}
    for f in sorted(facts.frames, key=lambda f: (aware(f.occurred_at), f.version, _SAME_INSTANT.get(f.change, 5))):
        if f.change in FRAME_STATE_AFTER:
            state[f.frame_id] = FRAME_STATE_AFTER[f.change]
    counts = Counter(s for s in state.values() if s)
    active = counts["current"] + counts["review_due"] + counts["stale"]
    return {"current": counts["current"], "review_due": counts["review_due"], "stale": counts["stale"],
            "active": active, "stale_share": round(counts["stale"] / active, 4) if active else None}


TRIAGE = "triage"
# The social worker took the referral on: it passed `admissible` (refusee is the person declining later,
# after admission). recue → fermee is the worker not retaining it.
CONFIRMED_STATUSES = {"admissible", "premier_contact", "en_suivi", "refusee"}


def referrals(facts: Facts) -> dict:
    """Referrals, the confirmed ones apart from triage's unconfirmed suggestions.

    - A referral (distinct `referral_id`) is *filed* when a person filed it (`referral.filed`, or status
      events whose referrer type is not `triage`), *suggested* when triage proposed it (referrer type
      `triage`: Info-social puts triage's `referral.suggested` in the social worker's queue as `recue`).
    - *Confirmed*: filed by a person, or a suggestion the social worker took on (it reached `admissible`,
      `premier_contact`, `en_suivi` or `refusee`). A suggestion still `recue` is *pending*; one closed
      from `recue` (`fermee`) is *not retained*. Only confirmed referrals are in `referrals`, `by_source`
      (so `triage` there counts confirmed suggestions), `by_criterion`, `by_status` and the time to first
      contact; `suggested` gives triage's suggestions by state.
    - by source (referrer type) and by admissibility criterion (a referral with several criteria counts
      once under each); by latest status;
    - time from referral to first contact: days from the referral's reception (its `referral.filed` time,
      else the `received_at` of its status events) to its first contact (`first_contact_at` of a status
      event, else the time of its first `premier_contact` status). Source and criteria come from
      `referral.filed`, else from status events.
    """
    info: dict[str, dict] = {}
    for r in sorted(facts.referrals, key=lambda r: (r.kind != "filed", aware(r.occurred_at))):
        ref = info.setdefault(r.referral_id, {"source": None, "criteria": (), "received": None, "filed": False,
                                              "first_contact": None, "status": None, "status_at": None,
                                              "statuses": set()})
        ref["source"] = ref["source"] or r.referrer_type
        ref["criteria"] = ref["criteria"] or tuple(r.criteria)
        if r.kind == "filed":
            ref["filed"] = True
            ref["received"] = ref["received"] or aware(r.occurred_at)
        else:
            ref["statuses"].add(r.status)
            ref["received"] = ref["received"] or (aware(r.received_at) if r.received_at else None)
            contact = aware(r.first_contact_at) if r.first_contact_at else (
                aware(r.occurred_at) if r.status == "premier_contact" else None)
            if contact and (ref["first_contact"] is None or contact < ref["first_contact"]):
                ref["first_contact"] = contact
            if ref["status_at"] is None or aware(r.occurred_at) >= ref["status_at"]:
                ref["status"], ref["status_at"] = r.status, aware(r.occurred_at)
    by_source, by_criterion, by_status = Counter(), Counter(), Counter()
    suggested = Counter()
    days = []
    confirmed = 0
    for ref in info.values():
        is_suggestion = not ref["filed"] and ref["source"] == TRIAGE
        taken_on = bool(ref["statuses"] & CONFIRMED_STATUSES)
        if is_suggestion:
            suggested["total"] += 1
            suggested["confirmed" if taken_on else "not_retained" if "fermee" in ref["statuses"] else "pending"] += 1
            if not taken_on:
                continue
        confirmed += 1
        by_source[ref["source"] or "inconnu"] += 1
        for c in ref["criteria"]:
            by_criterion[c] += 1
        by_status[ref["status"] or "recue"] += 1
        if ref["received"] and ref["first_contact"] and ref["first_contact"] >= ref["received"]:
            days.append((ref["first_contact"] - ref["received"]).total_seconds() / 86400)
    return {
        "referrals": confirmed,
        "filed": confirmed - suggested["confirmed"],
        "suggested": {k: suggested[k] for k in ("total", "confirmed", "pending", "not_retained")},
        "by_source": dict(sorted(by_source.items())),
        "by_criterion": dict(sorted(by_criterion.items())),
        "by_status": dict(sorted(by_status.items())),
        "time_to_first_contact_days": {
            "n": len(days),
            "median": round(statistics.median(days), 3) if days else None,
            "mean": round(statistics.fmean(days), 3) if days else None,
        },
    }
