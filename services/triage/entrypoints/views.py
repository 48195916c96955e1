"""What the read API answers: a person's (or location's) triage state and a call's decision, explained in
French. Reads the worker's tables; computes nothing new except counts "as of" the asked time."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson

from services.triage.domain import labels as L
from services.triage.domain import state as S
from services.triage.domain.config import RulesetConfig


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat()


def explain_decision(d: dict) -> dict:
    return {
        **d,
        "explication": {
            "niveau": L.label(L.LEVELS, d["level"]),
            "danger": L.label(L.DANGER, d["danger"]["level"]),
            "categorie": L.label(L.CATEGORIES, d["category"]),
            "criteres": [L.label(L.CRITERIA, c) for c in d["criteria_met"]],
            "raisons": [f"{r['label']} — {r['observed']} (contribution {r['contribution']:g})" for r in d["reasons"]],
        },
    }


def subject_view(key: str, st: S.SubjectState, at: float, cfg: RulesetConfig,
                 decisions: list[dict] | None = None) -> dict:
    """`decisions`: the kept decisions the reader may see (dyade.access), newest first; default all of them."""
    if decisions is None:
        decisions = [orjson.loads(d) for d in S.decisions_of(st)]
    rec = S.recurrence_as_of(st, at, cfg.decay_half_life_days)  # exact per window past the kept detail
    frame = S.frame_as_of(st, at)
    override = S.override_as_of(st, at)
    crisis_365 = rec.crisis_year
    recent = sorted(st.calls.items(), key=lambda kv: (kv[1].time, kv[0]), reverse=True)[:10]
    frame_active = bool(frame and frame.active)
    waived = override is not None and not override.recurrent
    return {
        "cle": key,
        "genre": "personne" if key.startswith("p_") else "lieu",
        "au": iso(at),
        "recurrence": {
            "appels_par_fenetre": rec.calls,
            "appels_de_crise_365j": crisis_365,
            "score_attenue": round(rec.decayed, 4),
            "grande_utilisatrice": crisis_365 >= cfg.grande_utilisatrice_calls and not waived,
            "seuil_grande_utilisatrice": cfg.grande_utilisatrice_calls,
        },
        "derogation": None if override is None else {
            "recurrent": override.recurrent, "depuis": iso(override.time), "jusqu_au": iso(override.until),
            "libelle": "Récurrence fixée par une intervenante" if override.recurrent
                       else "Récurrence écartée par une intervenante",
        },
        "fiche": {"active": frame_active, "version": frame.version if frame_active else None,
                  "a_reviser": frame_active and frame.stale,
                  "risques_notes": frame.risk_count if frame_active else 0},
        "references_ouvertes": [{"referral_id": rid, "statut": L.label(L.REFERRAL_STATUS, st.referrals[rid][-1].status)}
                                for rid in S.open_referrals(st, at)],
        "dernier_contact_dyade": iso(S.last_dyad_contact(st)),
        "suggestion_de_reference": None if st.suggested is None else {
            "appel": st.suggested.call_id, "le": iso(st.suggested.time),
            "criteres": [L.label(L.CRITERIA, c) for c in st.suggested.criteria]},
        "appels_recents": [{
            "call_id": cid, "date": iso(e.time), "categorie": L.label(L.CATEGORIES, e.category),
            "observations": [L.label(L.FLAGS, f) for f in e.flags],
            "issue": L.label(L.DISPOSITIONS, e.disposition), "dyade_sur_place": e.dyad_time is not None,
        } for cid, e in recent],
        "dernieres_decisions": [explain_decision(d) for d in decisions],
        "ruleset_version": cfg.version,
    }
