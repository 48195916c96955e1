"""The desk's pure rules, without I/O: one suggestion per person (upsert), ranking, dismissal, the lists'
filters and pages, age bands, the caseload's calls per month, the label catalogue."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from dyade.contracts import CRITERION_LABELS, Criterion
from services.infosocial.domain import caseload as C
from services.infosocial.domain import desk as D
from services.infosocial.domain import labels as L
from services.infosocial.domain import suggestions as SG

T0 = datetime(2026, 11, 20, 14, tzinfo=timezone.utc)


def inc(call: str, *criteria: str, at: datetime = T0, reasons=(), sid: str | None = None) -> SG.Incoming:
    return SG.Incoming(suggestion_id=sid or f"S-{call}", person_key="p_abcd1234", call_id=call,
                       criteria=tuple(criteria), reasons=tuple(reasons), ruleset_version="2026.1", at=at)


# -- one open suggestion per person, updated rather than repeated ----------------------------------------------
def test_a_new_suggestion_for_the_same_person_updates_the_open_one():
    t = SG.start(inc("C-1", "recurrence", reasons=("Appels récurrents (30 jours)",)))
    t = SG.merge(t, inc("C-2", "dangerosite_previsible", "recurrence", at=T0 + timedelta(hours=3),
                        reasons=("Menaces", "Appels récurrents (30 jours)")))
    t = SG.merge(t, inc("C-3", "dangerosite_imminente", at=T0 + timedelta(days=1), reasons=("Arme",)))
    assert t.calls == 3 and t.call_ids == ("C-1", "C-2", "C-3")
    assert t.criteria == ("recurrence", "dangerosite_previsible", "dangerosite_imminente")  # the form's order
    assert t.reasons == ("Appels récurrents (30 jours)", "Menaces", "Arme")
    assert (t.latest_call_id, t.first_at, t.last_seen_at) == ("C-3", T0, T0 + timedelta(days=1))
    assert t.priority == 0


def test_the_same_call_twice_is_not_counted_twice_and_late_events_keep_the_latest_call():
    t = SG.start(inc("C-5", "recurrence", at=T0))
    t = SG.merge(t, inc("C-5", "recurrence", "complexite_intervention", at=T0))  # a revision of the same call
    assert t.calls == 1 and t.criteria == ("recurrence", "complexite_intervention")
    late = SG.merge(t, inc("C-4", "recurrence", at=T0 - timedelta(days=2)))  # an earlier call, delivered late
    assert late.calls == 2 and late.latest_call_id == "C-5" and late.first_at == T0 - timedelta(days=2)
    assert late.last_seen_at == T0


def test_where_a_suggestion_goes():
    s = inc("C-9", "recurrence", at=T0)
    assert SG.route(s, has_open=True, dismissed_criteria=None, dismissed_at=None) == "update_open"
    assert SG.route(s, has_open=False, dismissed_criteria=None, dismissed_at=None) == "new"
    # dismissed 10 days ago for recurrence: the same situation again does not reopen it...
    assert SG.route(s, has_open=False, dismissed_criteria=["recurrence", "complexite_intervention"],
                    dismissed_at=T0 - timedelta(days=10)) == "absorb_dismissed"
    # ... a new criterion (imminent danger) does, at once; and so does the same one after the quiet period
    danger = inc("C-10", "recurrence", "dangerosite_imminente", at=T0)
    assert SG.route(danger, has_open=False, dismissed_criteria=["recurrence"],
                    dismissed_at=T0 - timedelta(days=1)) == "new"
    assert SG.route(s, has_open=False, dismissed_criteria=["recurrence"],
                    dismissed_at=T0 - timedelta(days=SG.DISMISSED_QUIET_DAYS + 1)) == "new"


# -- ranking ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("criteria, rank", [
    (["dangerosite_imminente", "recurrence"], 0), (["recurrence", "dangerosite_previsible"], 1),
    (["recurrence", "complexite_intervention"], 2), (["implication_partenaires"], 3), ([], 3)])
def test_priority(criteria, rank):
    assert SG.priority(criteria) == rank


def test_ranking_imminent_then_foreseeable_then_recurrence_then_most_recent():
    def t(name, criteria, hours):
        return SG.start(inc(name, *criteria, at=T0 + timedelta(hours=hours)))
    tallies = [t("rec-old", ["recurrence"], 0), t("other", ["complexite_intervention"], 9),
               t("prev", ["dangerosite_previsible"], 1), t("rec-new", ["recurrence"], 5),
               t("imm", ["dangerosite_imminente"], -48)]
    assert [x.latest_call_id for x in SG.rank(tallies)] == ["imm", "prev", "rec-new", "rec-old", "other"]


def test_dismissal_needs_a_known_reason_and_other_needs_a_note():
    SG.check_dismissal("deja_suivie", None, L.DISMISS_REASONS)
    SG.check_dismissal("autre", "suivie par la DPJ", L.DISMISS_REASONS)
    with pytest.raises(SG.DismissalRefused, match="préciser"):
        SG.check_dismissal("autre", "  ", L.DISMISS_REASONS)
    with pytest.raises(SG.DismissalRefused, match="inconnu"):
        SG.check_dismissal("parce_que", None, L.DISMISS_REASONS)


# -- the lists' filters and pages -----------------------------------------------------------------------------------
def test_filters_keep_known_values_and_bound_the_page():
    f = D.parse({"critere": "dangerosite_imminente", "secteur": "S2", "age": "mineur", "tri": "appels",
                 "page": "3", "par_page": "500", "etat": "ecartee"}, kind="suggestions")
    assert (f.criterion, f.sector, f.age, f.sort, f.page, f.per_page, f.state) == (
        "dangerosite_imminente", "S2", "mineur", "appels", 3, D.MAX_PER_PAGE, "ecartee")
    assert f.offset == 2 * D.MAX_PER_PAGE
    bad = D.parse({"critere": "'; drop", "age": "vieux", "tri": "x", "page": "-4", "etat": "n'importe",
                   "origine": "triage"}, kind="suggestions")
    assert (bad.criterion, bad.age, bad.sort, bad.page, bad.state, bad.origin) == (
        None, None, "priorite", 1, SG.OPEN, None)
    r = D.parse({"origin": "personnes", "state": "admissible"}, kind="referrals")  # English names accepted
    assert (r.origin, r.state) == ("personnes", "admissible")
    assert D.parse({}, kind="referrals").state == D.OPEN_STATES


def test_a_page_link_keeps_the_filters():
    f = D.parse({"critere": "recurrence", "secteur": "S1", "page": "2"}, kind="referrals")
    assert f.query(page=3) == "etat=ouvertes&critere=recurrence&secteur=S1&page=3"
    assert D.parse(dict(x.split("=") for x in f.query(page=3).split("&")), kind="referrals").page == 3
    assert D.Page([], total=51, page=1, per_page=25).pages == 3 and D.Page([], 0, 1, 25).pages == 1


@pytest.mark.parametrize("birth, band", [
    (date(2008, 11, 21), "mineur"), (date(2008, 11, 20), "adulte"), (date(1961, 11, 21), "adulte"),
    (date(1961, 11, 20), "aine"), (None, "inconnu")])
def test_age_bands(birth, band):
    assert D.age_band(birth, date(2026, 11, 20)) == band


# -- the caseload's calls per month -------------------------------------------------------------------------------------
def test_first_contact_is_the_referrals_earliest_else_the_frame():
    a, b = T0 - timedelta(days=40), T0 - timedelta(days=10)
    assert C.first_contact([None, b, a], T0) == C.FirstContact(a, "referral")
    assert C.first_contact([None], T0) == C.FirstContact(T0, "frame")
    assert C.first_contact([], None) == C.FirstContact(None, None)


@pytest.mark.parametrize("days_since, window", [(29, None), (30, 30), (89, 30), (90, 90), (200, 180), (400, 365)])
def test_the_window_after_lies_wholly_after_the_contact(days_since, window):
    assert C.after_window(T0 - timedelta(days=days_since), T0) == window


def test_calls_per_month_before_and_since_the_first_contact():
    contact = T0 - timedelta(days=100)
    r = C.rates(contact, T0, before_counts={"30j": 4, "90j": 9}, now_counts={"30j": 0, "90j": 2, "180j": 11})
    assert (r.before_calls, r.before, r.after_calls, r.after, r.after_days) == (9, 3.0, 2, 0.7, 90)
    early = C.rates(T0 - timedelta(days=5), T0, before_counts={"90j": 6}, now_counts={"90j": 7})
    assert early.too_early and early.after is None and early.before == 2.0
    unknown = C.rates(contact, T0, before_counts=None, now_counts=None)  # triage knows no call of the person
    assert (unknown.before, unknown.after) == (0.0, 0.0)
    no_contact = C.rates(None, T0, before_counts=None, now_counts={"90j": 3})
    assert (no_contact.before, no_contact.after) == (1.0, None)


# -- one label catalogue ---------------------------------------------------------------------------------------------------
def test_every_criterion_has_french_and_english_words():
    assert set(CRITERION_LABELS) == set(Criterion)
    assert L.criterion("dangerosite_previsible") == "Dangerosité prévisible"
    assert L.criterion("dangerosite_previsible", "en") == "Foreseeable danger"
    assert L.criterion("code_inconnu") == "code_inconnu"
    assert L.status("premier_contact", "en") == "First contact" and L.referrer("prepose_911") == "Préposé 9-1-1"
    assert L.ranked(["recurrence", "implication_partenaires", "dangerosite_imminente", "complexite_intervention"]) \
        == ["dangerosite_imminente", "recurrence", "complexite_intervention", "implication_partenaires"]
    assert L.FR.keys() == L.EN.keys()
    for table in (L.STATUS, L.REFERRER, L.SUGGESTION_STATE, L.DISMISS_REASONS, L.AGE_BANDS, L.SORTS, L.ORIGINS):
        assert all(len(pair) == 2 and all(pair) for pair in table.values())
    assert set(D.SUGGESTION_SORTS) | set(D.REFERRAL_SORTS) <= set(L.SORTS)
