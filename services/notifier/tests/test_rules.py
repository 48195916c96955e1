"""Pure rules of issue "alerts a dyad can trust": severity, merge eligibility, deferral policy, where to go."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from dyade.contracts.vocabulary import AlertState as S, TriageLevel as L
from services.notifier.domain import labels, merging, severity
from services.notifier.domain.roster import MONTREAL, Adjacency, Dyad
from services.notifier.domain.routing import AfterHours, NotDeferrable, Outcome, Route, route
from services.notifier.tests.test_domain import TUESDAY_10H, TUESDAY_22H

KNIFE = [("danger.arme", "Arme mentionnée ou vue (danger imminent)"), ("danger.menaces_de_mort", "Menaces de mort")]
IDEATION = [("danger.idees_suicidaires", "Idées suicidaires sans plan")]
RECURRENT = [("recurrence.30j", "Appels récurrents")]


def test_levels_are_ordered_as_triage_orders_them():
    assert [severity.level_rank(x) for x in L] == [0, 1, 2, 3]
    assert severity.higher(L.SECURITE_POLICIERS, L.DYADE_SUGGEREE)
    assert not severity.higher(L.DYADE_SUGGEREE, L.DYADE_SUGGEREE)
    assert severity.max_level("dyade_prioritaire", "dyade_suggeree") == L.DYADE_PRIORITAIRE


def test_severity_from_reasons():
    knife = severity.assess(L.SECURITE_POLICIERS, KNIFE, danger_level="imminent")
    assert knife.critical == {"danger.arme", "danger.menaces_de_mort"} and knife.must_not_wait and knife.must_reach
    ideation = severity.assess(L.DYADE_SUGGEREE, IDEATION)
    assert not ideation.critical and ideation.suicidal and ideation.must_not_wait and ideation.must_reach
    assert severity.assess(L.DYADE_SUGGEREE, category="suicidaire").must_not_wait
    plain = severity.assess(L.DYADE_SUGGEREE, RECURRENT)
    assert not plain.must_not_wait and not plain.must_reach
    assert severity.assess(L.DYADE_PRIORITAIRE, RECURRENT).must_reach
    history = severity.assess(L.DYADE_SUGGEREE, [("danger.haut_risque_anterieur", "Intervention antérieure")])
    assert not history.critical   # the past is context, not a present danger
    assert severity.assess(L.DYADE_SUGGEREE, [("danger.homicide_conjugal", "Risque (danger imminent)")]).imminent


def test_the_factor_ids_still_exist_in_triage_and_cover_its_present_dangers():
    from services.triage.domain.rules import RULES
    ids = {r.id for r in RULES}
    assert severity.CRITICAL | severity.SUICIDAL | severity.HISTORICAL <= ids
    for rule in RULES:
        if rule.imminent:
            assert rule.id in severity.IMMINENT, rule.id
        if rule.officer_safety and rule.id not in severity.HISTORICAL:
            assert rule.id in severity.OFFICER_SAFETY, rule.id


def alert(**kw):
    args = dict(state=S.SNOOZED, sector="S1", level=L.DYADE_SUGGEREE, dyad_id="D1", target=None,
                call_ids=frozenset({"c1"}), factors=frozenset({"recurrence.30j"}))
    args.update(kw)
    return merging.OpenAlert(**args)


def call(level=L.DYADE_SUGGEREE, reasons=RECURRENT, sector="S1", call_id="c2"):
    return merging.Incoming(call_id, sector, severity.assess(level, reasons))


TO_D1 = Route(Outcome.DYAD, dyad_id="D1")
TO_D2 = Route(Outcome.DYAD, dyad_id="D2")


def test_knife_call_through_a_snooze_pages_anew():
    p = merging.plan(alert(), call(L.SECURITE_POLICIERS, KNIFE), holder_on_duty=True, fresh=TO_D2)
    assert p.action == merging.Action.REPAGE and "securite_policiers" in p.why


def test_a_mild_call_is_absorbed_by_the_snooze_but_an_urgent_one_is_not():
    assert merging.plan(alert(), call(), holder_on_duty=True, fresh=TO_D1).action == merging.Action.MERGE
    urgent = merging.plan(alert(), call(L.DYADE_SUGGEREE, IDEATION), holder_on_duty=True, fresh=TO_D1)
    assert urgent.action == merging.Action.REPAGE
    # the same urgent call, acknowledged by the dyad already on it: joins silently
    assert merging.plan(alert(state=S.ACKNOWLEDGED), call(L.DYADE_SUGGEREE, IDEATION), holder_on_duty=True,
                        fresh=TO_D2).action == merging.Action.MERGE


def test_a_critical_factor_pages_anew_even_at_the_same_level_but_not_when_repeated_by_a_revision():
    held = alert(state=S.ACKNOWLEDGED, level=L.SECURITE_POLICIERS, factors=frozenset({"danger.arme"}))
    assert merging.plan(held, call(L.SECURITE_POLICIERS, KNIFE), holder_on_duty=True,
                        fresh=TO_D2).action == merging.Action.REPAGE
    revision = call(L.SECURITE_POLICIERS, [KNIFE[0]], call_id="c1")
    assert merging.plan(held, revision, holder_on_duty=True, fresh=TO_D2).action == merging.Action.MERGE


def test_never_across_sectors_nor_into_an_unknown_sector():
    assert merging.plan(alert(), call(sector="S2"), holder_on_duty=True, fresh=TO_D1).action == merging.Action.NEW
    nowhere = alert(sector=None, dyad_id=None, target="superviseur", state=S.CREATED)
    assert merging.plan(nowhere, call(sector="S1"), holder_on_duty=False, fresh=TO_D1).action == merging.Action.NEW
    same_call = call(sector=None, call_id="c1")
    assert merging.plan(nowhere, same_call, holder_on_duty=False,
                        fresh=Route(Outcome.FALLBACK, target="superviseur")).action == merging.Action.MERGE


def test_only_at_the_same_holder():
    assert merging.plan(alert(), call(), holder_on_duty=False, fresh=TO_D2).action == merging.Action.NEW
    at_supervisor = alert(dyad_id=None, target="superviseur", state=S.ESCALATED)
    # a dyad is free for the new call: it gets it, not the supervisor's alert
    assert merging.plan(at_supervisor, call(), holder_on_duty=False, fresh=TO_D1).action == merging.Action.NEW
    missed = Route(Outcome.MISSED)
    assert merging.plan(at_supervisor, call(), holder_on_duty=False, fresh=missed).action == merging.Action.MERGE
    # at a fallback holder: only a call whose own route is that same holder joins
    patrol = Route(Outcome.FALLBACK, target="superviseur_patrouille")
    assert merging.plan(at_supervisor, call(L.SECURITE_POLICIERS, KNIFE), holder_on_duty=False,
                        fresh=patrol).action == merging.Action.NEW
    assert merging.plan(at_supervisor, call(), holder_on_duty=False,
                        fresh=Route(Outcome.SUPERVISOR, target="superviseur")).action == merging.Action.MERGE
    # the on-call worker let the person's alert go to the supervisor: their next call joins it there
    on_call = Route(Outcome.FALLBACK, target="garde_sociale")
    assert merging.plan(at_supervisor, call(), holder_on_duty=False, fresh=on_call).action == merging.Action.MERGE
    at_patrol = alert(dyad_id=None, target="superviseur_patrouille", state=S.CREATED)
    assert merging.plan(at_patrol, call(), holder_on_duty=False, fresh=on_call).action == merging.Action.NEW
    deferred = alert(dyad_id=None, state=S.DEFERRED)
    assert merging.plan(deferred, call(), holder_on_duty=False,
                        fresh=Route(Outcome.DEFERRED)).action == merging.Action.MERGE
    assert merging.plan(deferred, call(L.DYADE_PRIORITAIRE), holder_on_duty=False,
                        fresh=Route(Outcome.FALLBACK, target="garde_sociale")).action == merging.Action.NEW


def test_a_silent_merge_never_raises_the_level():
    for lv in L:
        if lv == L.ROUTINE:
            continue
        for held in (L.DYADE_SUGGEREE, L.DYADE_PRIORITAIRE, L.SECURITE_POLICIERS):
            p = merging.plan(alert(level=held, state=S.SEEN), call(lv), holder_on_duty=True, fresh=TO_D1)
            assert (p.action == merging.Action.MERGE) == (not severity.higher(lv, held))


ADJ = Adjacency.parse("S1:S2")


def go(**kw):
    args = dict(sector="S1", level=L.DYADE_SUGGEREE, at=TUESDAY_22H, dyads=[Dyad("D1", "S1"), Dyad("D2", "S2")],
                busy=set(), adjacency=ADJ, after_hours=AfterHours())
    args.update(kw)
    return route(**args)


def test_deferral_policy_never_defers_a_suicidal_call_outside_hours():
    assert go().outcome == Outcome.DEFERRED
    r = go(must_not_wait=True)
    assert (r.outcome, r.target) == (Outcome.FALLBACK, "garde_sociale")
    custom = AfterHours({"dyade_suggeree": "ligne_de_crise"}, deferrable=frozenset(), on_call="garde")
    assert go(after_hours=custom).target == "ligne_de_crise"
    assert go(after_hours=custom, level=L.DYADE_PRIORITAIRE).target == "garde"
    with pytest.raises(NotDeferrable):
        AfterHours(deferrable=frozenset({"dyade_prioritaire"}))


def test_urgent_call_with_every_dyad_busy_goes_to_the_supervisor():
    day = dict(at=TUESDAY_10H, busy={"D1", "D2"})
    assert (go(**day).outcome, go(**day).target) == (Outcome.MISSED, None)
    r = go(**day, must_reach=True)
    assert (r.outcome, r.target) == (Outcome.MISSED, "superviseur")


def test_shifts_follow_the_organisation_time_zone():
    vancouver = ZoneInfo("America/Vancouver")
    at = datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc)   # 10h in Vancouver, 13h in Montréal
    assert Dyad("D1", "S1", tz=vancouver).on_duty(at)
    assert not Dyad("D1", "S1", tz=vancouver).on_duty(datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc))


def test_where_to_go_labels():
    assert labels.geo_uri(45.5017, -73.5673) == "geo:45.5017,-73.5673"
    assert labels.geo_uri(45.5, None) is None
    assert labels.where("1200 bloc rue Sainte-Catherine E", "S1") == "1200 bloc rue Sainte-Catherine E · secteur S1"
    assert labels.where(None, None, "en") == "Unknown address · sector ?"
    at = datetime(2026, 11, 24, 19, 32, tzinfo=timezone.utc)
    assert labels.local_datetime(at, MONTREAL) == "2026-11-24 14:32"
    assert labels.local_clock(at, ZoneInfo("Europe/Paris")) == "20:32"
