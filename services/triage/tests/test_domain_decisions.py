"""Danger rules, levels, overrides, admissibility, ordering and determinism of the pure decision."""
import pytest
from hypothesis import given, settings, strategies as st

from dyade.contracts.vocabulary import Criterion, DangerLevel, TriageLevel
from services.triage.domain import admissibility, state as S
from services.triage.domain.config import RulesetConfig
from services.triage.domain.decide import decide, decision_id
from services.triage.domain.routing import choose_subject
from services.triage.domain.rules import RULES
from services.triage.tests.factories import at, call, update

CFG = RulesetConfig()
NO_LOC = {}


def run(c, st=None, loc_crisis=0, cfg=CFG):
    return decide(c, st if st is not None else S.new_state(), NO_LOC, loc_crisis, cfg)


def factors(decision):
    return {r.factor for r in decision.payload.reasons}


@pytest.mark.parametrize("flag, rule, danger, level", [
    ("arme", "danger.arme", DangerLevel.IMMINENT, TriageLevel.SECURITE_POLICIERS),
    ("menaces_de_mort", "danger.menaces_de_mort", DangerLevel.IMMINENT, TriageLevel.SECURITE_POLICIERS),
    ("violence", "danger.violence", DangerLevel.PREVISIBLE, TriageLevel.DYADE_SUGGEREE),
    ("menaces", "danger.menaces", DangerLevel.PREVISIBLE, TriageLevel.DYADE_SUGGEREE),
    ("gestes_suicidaires", "danger.gestes_suicidaires", DangerLevel.IMMINENT, TriageLevel.DYADE_PRIORITAIRE),
    ("plan_suicidaire", "danger.plan_suicidaire", DangerLevel.IMMINENT, TriageLevel.DYADE_PRIORITAIRE),
    ("idees_suicidaires", "danger.idees_suicidaires", DangerLevel.PREVISIBLE, TriageLevel.DYADE_SUGGEREE),
    ("automutilation", "danger.automutilation", DangerLevel.PREVISIBLE, TriageLevel.DYADE_SUGGEREE),
    ("demande_p38", "danger.demande_p38", DangerLevel.IMMINENT, TriageLevel.DYADE_PRIORITAIRE),
    ("intoxication", "danger.intoxication", DangerLevel.AUCUN, TriageLevel.ROUTINE),
])
def test_each_observed_flag_rule(flag, rule, danger, level):
    d = run(call(flags=(flag,)))
    assert rule in factors(d)
    assert d.payload.danger.level == danger
    assert d.payload.level == level
    reason = next(r for r in d.payload.reasons if r.factor == rule)
    assert reason.source and reason.label and reason.contribution == reason.weight > 0


def test_every_rule_has_a_french_label_a_weight_and_a_source():
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.label and r.source and 0 < r.weight <= 1


def test_no_flag_routine_for_a_public_disorder_call():
    d = run(call(category="desordre_public"))
    assert d.payload.level == TriageLevel.ROUTINE and d.payload.danger.level == DangerLevel.AUCUN
    assert d.payload.reasons == () and d.payload.criteria_met == ()


def test_domestic_violence_with_death_threats_is_an_imminent_homicide_risk():
    d = run(call(category="violence_conjugale_familiale", flags=("menaces_de_mort",)))
    assert {"danger.homicide_conjugal", "danger.menaces_de_mort"} <= factors(d)
    assert d.payload.level == TriageLevel.SECURITE_POLICIERS
    assert Criterion.INTERVENTION_HAUT_RISQUE in d.payload.criteria_met


def test_repeated_domestic_violence_is_a_foreseeable_homicide_risk():
    st = S.new_state()
    S.record_call(st, call("c0", days=-40, category="violence_conjugale_familiale"), CFG)
    d = run(call("c1", category="violence_conjugale_familiale"), st)
    assert "danger.homicide_conjugal" in factors(d)
    assert d.payload.danger.level == DangerLevel.PREVISIBLE


def test_earlier_high_risk_intervention_counts_only_once_its_outcome_is_known():
    st = S.new_state()
    S.record_call(st, call("c0", days=-20), CFG)
    S.record_update(st, update("c0", at(-19), disposition="transport_p38"))
    assert "danger.haut_risque_anterieur" in factors(run(call("c1"), st))
    st2 = S.new_state()
    S.record_call(st2, call("c0", days=-20), CFG)
    S.record_update(st2, update("c0", at(1), disposition="transport_p38"))
    assert "danger.haut_risque_anterieur" not in factors(run(call("c1"), st2))


def test_frame_risks_and_active_frame():
    st = S.new_state()
    S.record_frame(st, at(-5), active=True, version=2, stale=True, risk_count=2)
    d = run(call(category="desordre_public"), st)
    assert {"danger.fiche", "fiche.active"} <= factors(d)
    assert d.payload.frame.exists and d.payload.frame.stale and d.payload.frame.version == 2
    assert d.payload.level == TriageLevel.DYADE_SUGGEREE
    S.record_frame(st, at(-1), active=False)  # archived (tombstone) before the call
    d = run(call(category="desordre_public"), st)
    assert not d.payload.frame.exists and d.payload.level == TriageLevel.ROUTINE


def recurrent_state(n: int, days_apart: float = 20, category="etat_mental_perturbe"):
    st = S.new_state()
    for i in range(n):
        S.record_call(st, call(f"h{i}", days=-(i + 1) * days_apart, category=category), CFG)
    return st


def test_recurrence_in_30_days_suggests_a_dyad_and_meets_the_criterion():
    d = run(call(), recurrent_state(1))
    assert d.payload.recurrence.person_calls["30j"] == 2
    assert d.payload.level == TriageLevel.DYADE_SUGGEREE
    assert Criterion.RECURRENCE in d.payload.criteria_met and "recurrence.30j" in factors(d)


def test_grande_utilisatrice_default_threshold_is_7_crisis_calls_in_365_days():
    assert not run(call(), recurrent_state(5, 40)).payload.recurrence.grande_utilisatrice
    d = run(call(), recurrent_state(6, 40))
    assert d.payload.recurrence.grande_utilisatrice
    assert d.payload.level == TriageLevel.DYADE_PRIORITAIRE
    assert "recurrence.grande_utilisatrice" in factors(d)
    assert not run(call(), recurrent_state(6, 40), cfg=RulesetConfig(grande_utilisatrice_calls=8)) \
        .payload.recurrence.grande_utilisatrice


def test_location_recurrence_for_a_call_about_nobody():
    c = call(subject=None)
    assert run(c, loc_crisis=2).payload.level == TriageLevel.ROUTINE
    d = run(c, loc_crisis=3)
    assert d.payload.level == TriageLevel.DYADE_SUGGEREE and "recurrence.lieu.30j" in factors(d)
    assert d.payload.criteria_met == () and d.payload.person_keys == ()


def test_override_not_recurrent_is_honoured_until_it_expires():
    st = recurrent_state(6, 40)
    S.record_override(st, at(-1), recurrent=False, until=at(10))
    d = run(call(), st)
    assert not d.payload.recurrence.grande_utilisatrice and d.payload.recurrence.overridden
    assert d.payload.level == TriageLevel.ROUTINE and Criterion.RECURRENCE not in d.payload.criteria_met
    assert "recurrence.derogation" in factors(d)
    later = run(call("c9", days=11), st)
    assert later.payload.recurrence.grande_utilisatrice and not later.payload.recurrence.overridden


def test_override_made_after_the_call_does_not_apply_and_recurrent_true_forces_recurrence():
    st = S.new_state()
    S.record_override(st, at(1), recurrent=True, until=None)
    assert Criterion.RECURRENCE not in run(call(), st).payload.criteria_met
    assert Criterion.RECURRENCE in run(call("c2", days=2), st).payload.criteria_met


def test_admissibility_suggests_once_until_the_situation_changes():
    st = S.new_state()
    c1 = call("c1", flags=("idees_suicidaires",))
    d1 = run(c1, st)
    s1 = admissibility.suggestion(d1, c1, st)
    assert s1 is not None and s1.criteria == (Criterion.DANGEROSITE_PREVISIBLE,) and s1.person_key == "p_1"
    admissibility.remember_suggestion(st, s1, c1.t)
    c2 = call("c2", days=1, flags=("idees_suicidaires",))
    S.record_call(st, c1, CFG)
    d2 = run(c2, st)  # now also recurrent: a new criterion → a new suggestion
    s2 = admissibility.suggestion(d2, c2, st)
    assert s2 is not None and Criterion.RECURRENCE in s2.criteria
    admissibility.remember_suggestion(st, s2, c2.t)
    c3 = call("c3", days=2, flags=("idees_suicidaires",))
    assert admissibility.suggestion(run(c3, st), c3, st) is None


def test_no_suggestion_when_a_file_is_open_or_nobody_is_the_subject():
    c = call(flags=("plan_suicidaire",))
    st = S.new_state()
    S.record_referral(st, "r1", at(-3), "recue")
    assert admissibility.suggestion(run(c, st), c, st) is None
    S.record_referral(st, "r1", at(-1), "fermee")
    assert admissibility.suggestion(run(c, st), c, st) is not None
    st = S.new_state()
    S.record_frame(st, at(-1), active=True, version=1)
    assert admissibility.suggestion(run(c, st), c, st) is None
    nobody = call(subject=None, flags=("plan_suicidaire",))
    assert admissibility.suggestion(run(nobody), nobody, S.new_state()) is None


def test_partner_caller_and_complexity_criteria():
    st = S.new_state()
    S.record_call(st, call("c0", days=-100, category="suicidaire"), CFG)
    d = run(call(caller="partenaire"), st)
    assert {Criterion.IMPLICATION_PARTENAIRES, Criterion.COMPLEXITE_INTERVENTION} <= set(d.payload.criteria_met)


def test_decision_id_is_deterministic_per_call_revision_and_ruleset():
    a = run(call()).payload.decision_id
    assert a == run(call()).payload.decision_id == decision_id("c1", 1, CFG.version)
    assert a != run(call(revision=2)).payload.decision_id
    assert a != run(call(), cfg=RulesetConfig(grande_utilisatrice_calls=9)).payload.decision_id


def test_later_events_and_the_call_itself_do_not_change_a_decision():
    st = recurrent_state(3, 10)
    c = call(flags=("idees_suicidaires",))
    before = run(c, st).payload
    S.record_call(st, c, CFG)                                   # reprocessed after a crash
    S.record_call(st, call("later", days=3, flags=("arme",)), CFG)
    S.record_frame(st, at(1), active=True, version=1, risk_count=3)
    S.record_override(st, at(2), recurrent=False, until=None)
    S.record_referral(st, "r1", at(1), "recue")
    assert run(c, st).payload == before


def test_subject_is_the_sujet_else_a_non_caller_else_nobody():
    from types import SimpleNamespace as P
    assert choose_subject([P(person_key="p_a", role="appelant"), P(person_key="p_s", role="sujet")]) == "p_s"
    assert choose_subject([P(person_key="p_a", role="appelant"), P(person_key="p_v", role="victime")]) == "p_v"
    assert choose_subject([P(person_key="p_a", role="appelant")]) is None
    assert choose_subject([]) is None


EVENTS = st.lists(st.one_of(
    st.tuples(st.just("call"), st.integers(-300, -1), st.sampled_from(["suicidaire", "desordre_public", "detresse"])),
    st.tuples(st.just("frame"), st.integers(-300, -1), st.booleans()),
    st.tuples(st.just("override"), st.integers(-300, -1), st.booleans()),
    st.tuples(st.just("referral"), st.integers(-300, -1), st.sampled_from(["recue", "fermee"])),
), max_size=12)


def apply(st_, ev, i):
    kind, day, x = ev
    if kind == "call":
        S.record_call(st_, call(f"h{i}", days=day, category=x), CFG)
    elif kind == "frame":
        S.record_frame(st_, at(day), active=x, version=1, risk_count=1)
    elif kind == "override":
        S.record_override(st_, at(day), recurrent=x, until=None)
    else:
        S.record_referral(st_, f"r{i % 2}", at(day), x)


@settings(max_examples=60, deadline=None)
@given(EVENTS, st.randoms(use_true_random=False))
def test_the_order_in_which_earlier_events_arrive_does_not_change_the_decision(events, rnd):
    indexed = list(enumerate(events))
    shuffled = indexed[:]
    rnd.shuffle(shuffled)
    a, b = S.new_state(), S.new_state()
    for i, ev in indexed:
        apply(a, ev, i)
    for i, ev in shuffled:
        apply(b, ev, i)
    c = call(flags=("idees_suicidaires",))
    assert run(c, a).payload == run(c, b).payload


# --- the rule-set version: everything that decides ----------------------------------------------------

def test_a_changed_danger_weight_changes_the_version_and_the_decision_id(monkeypatch):
    from dataclasses import replace
    from services.triage.domain import rules
    c = call(flags=("arme",))
    before = run(c).payload
    assert RulesetConfig().version == CFG.version  # stable for the same rules
    patched = tuple(replace(r, weight=0.95) if r.id == "danger.arme" else r for r in rules.RULES)
    monkeypatch.setattr(rules, "RULES", patched)
    cfg = RulesetConfig()
    after = run(c, cfg=cfg).payload
    assert cfg.version != CFG.version and after.ruleset_version == cfg.version
    assert after.decision_id != before.decision_id and after.danger.score == 0.95


def test_a_changed_reason_weight_or_crisis_list_changes_the_version(monkeypatch):
    from services.triage.domain import decide as D, state as S_
    monkeypatch.setitem(D.REASON_WEIGHTS, "fiche.active", 0.25)
    assert RulesetConfig().version != CFG.version
    monkeypatch.undo()
    assert RulesetConfig().version == CFG.version
    monkeypatch.setattr(S_, "CRISIS", S_.CRISIS - {"bien_etre"})
    assert RulesetConfig().version != CFG.version


def test_the_version_follows_the_code_not_its_comments_or_layout():
    from services.triage.domain.version import DECIDING_MODULES, normalised_source
    code = 'def level(d):\n    """Doc."""\n    return "a" if d > 1 else "b"  # why\n'
    assert normalised_source(code) == normalised_source('def level(d):\n\n    return ("a" if d > 1\n  else "b")\n')
    assert normalised_source(code) != normalised_source(code.replace("d > 1", "d >= 1"))
    assert {"rules", "decide", "admissibility", "recurrence", "state", "config"} <= set(DECIDING_MODULES)
    assert CFG.version.startswith("triage-r2-")


def test_the_decision_carries_the_calls_address_coordinates_and_nature():
    from dataclasses import replace
    c = replace(call(), address="1200 bloc rue Saint-Louis", lat=45.7, lon=-73.64, nature_code="EMP")
    d = run(c).payload
    assert (d.address, d.lat, d.lon, d.nature_code) == ("1200 bloc rue Saint-Louis", 45.7, -73.64, "EMP")
    st_ = S.new_state()
    S.record_call(st_, c, CFG)
    assert "1200" not in str(st_.calls)  # not kept in the history


def test_name_uuid_is_uuid5_in_the_decisions_namespace():
    import uuid
    from services.triage.domain.decide import NAMESPACE, name_uuid
    for name in ("decision:c1:1:triage-r2", "suggestion:p_1:c1:1:r", "é" * 40, ""):
        assert name_uuid(name) == uuid.uuid5(NAMESPACE, name)
