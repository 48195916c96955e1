"""Pure domain: review dates, the sweep's decisions, referral moves, police view and views by role."""
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from dyade.contracts import ConsentStatus, LegalBasis, ReferralStatus as S, Role
from services.infosocial.domain.content import ConsentIn, FrameContent, FrameSubmission
from services.infosocial.domain.referrals import TransitionRefused, transition
from services.infosocial.domain.review import (add_months, default_review_due, review_due_on_approval,
                                               sweep_actions, today_in_montreal)
from services.infosocial.domain.visibility import Consent, FrameSnapshot, police_view, view_for

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
CONTENT = FrameContent.model_validate({
    "particularites": "diagnostic de schizophrénie",
    "interventions_a_privilegier": [{"text": "parler calmement", "source": "police"}, "rappeler l'infirmière"],
    "interventions_a_eviter": [{"text": "pas de contention au sol", "source": "police"}],
    "contacts": [{"name": "Mère", "role": "proche", "phone": "450-555-0101"},
                 {"name": "Voisin", "role": "voisin", "source": "police"}],
    "niveau_tolerance": {"text": "élevé", "source": "police"}, "mode_liberation": "accompagnement à l'urgence",
    "risques": [{"text": "couteau", "source": "police"}, "idées suicidaires"], "pii_link": "PII-1"})


def snap(consent=ConsentStatus.OBTENU, basis=None, **kw) -> FrameSnapshot:
    base = dict(frame_id="f_0123456789abcdef", person_key="p_abc123", version=2, content=CONTENT,
                consent=Consent(status=consent, legal_basis=basis), review_due=date(2027, 6, 1), stale_flag=False,
                archived=False, author="a", approved_by="b", approved_at=NOW, owner="a", display_name="Jeanne D.")
    base.update(kw)
    return FrameSnapshot(**base)


def test_review_date_is_a_year_after_review_even_on_leap_day():
    assert default_review_due(date(2026, 3, 15)) == date(2027, 3, 15)
    assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert review_due_on_approval(date(2026, 1, 1), date(2026, 6, 1)) == date(2026, 6, 1)
    assert review_due_on_approval(date(2026, 1, 1), date(2028, 1, 1)) == date(2027, 1, 1)  # never past a year


def test_today_is_montreal_date():
    assert today_in_montreal(datetime(2026, 11, 24, 3, tzinfo=timezone.utc)) == date(2026, 11, 23)


@pytest.mark.parametrize("today, notified, stale, expected", [
    (date(2027, 4, 1), None, False, []),
    (date(2027, 5, 2), None, False, ["review_due"]),
    (date(2027, 5, 20), date(2027, 6, 1), False, []),
    (date(2027, 6, 1), date(2027, 6, 1), False, []),
    (date(2027, 6, 2), date(2027, 6, 1), False, ["stale"]),
    (date(2027, 6, 2), None, False, ["review_due", "stale"]),
    (date(2027, 9, 1), None, True, []),
])
def test_sweep_warns_ahead_then_marks_stale(today, notified, stale, expected):
    acts = sweep_actions(review_due=date(2027, 6, 1), stale=stale, notified_for=notified, today=today)
    assert [a.kind for a in acts] == expected


def test_referral_moves():
    t = transition(S.ADMISSIBLE, S.PREMIER_CONTACT, now=NOW, first_contact_at=None, existing_first_contact=None,
                   person_notified=False, note=None)
    assert t.first_contact_at == NOW and t.previous == S.ADMISSIBLE
    with pytest.raises(TransitionRefused, match="non permis"):
        transition(S.RECUE, S.EN_SUIVI, now=NOW, first_contact_at=None, existing_first_contact=None,
                   person_notified=False, note=None)
    with pytest.raises(TransitionRefused, match="reste disponible"):
        transition(S.PREMIER_CONTACT, S.REFUSEE, now=NOW, first_contact_at=None, existing_first_contact=None,
                   person_notified=False, note=None)
    t = transition(S.PREMIER_CONTACT, S.REFUSEE, now=NOW, first_contact_at=None, existing_first_contact=NOW,
                   person_notified=True, note="refuse le suivi")
    assert "reste disponible" in t.note and t.first_contact_at == NOW
    back = transition(S.REFUSEE, S.PREMIER_CONTACT, now=NOW + timedelta(days=3), first_contact_at=None,
                      existing_first_contact=NOW, person_notified=False, note=None)
    assert back.first_contact_at == NOW  # the first contact date is kept
    with pytest.raises(TransitionRefused, match="état final"):
        transition(S.FERMEE, S.ADMISSIBLE, now=NOW, first_contact_at=None, existing_first_contact=None,
                   person_notified=False, note=None)
    with pytest.raises(TransitionRefused, match="futur"):
        transition(S.ADMISSIBLE, S.PREMIER_CONTACT, now=NOW, first_contact_at=NOW + timedelta(days=1),
                   existing_first_contact=None, person_notified=False, note=None)


def test_without_consent_police_view_holds_only_police_derived_elements():
    view, withheld = police_view(CONTENT, LegalBasis.AUCUNE)
    assert view.interventions_a_privilegier == ("parler calmement",)
    assert view.particularites is None and view.mode_liberation is None
    assert [c.name for c in view.contacts] == ["Voisin"]
    assert view.risques == ("couteau",) and view.niveau_tolerance == "élevé"
    assert withheld == 5
    full, none = police_view(CONTENT, LegalBasis.LRSSS_74_76)
    assert full.particularites == "diagnostic de schizophrénie" and none == 0 and len(full.contacts) == 2


ALL_TEXT = ["diagnostic de schizophrénie", "rappeler l'infirmière", "Mère", "idées suicidaires", "Jeanne D.",
            "PII-1", "couteau", "parler calmement"]


@pytest.mark.parametrize("role, consent, basis, visible, hidden", [
    (Role.SOCIAL_WORKER, ConsentStatus.REFUSE, None, ALL_TEXT, []),
    (Role.OFFICER, ConsentStatus.OBTENU, None, ["diagnostic de schizophrénie", "Mère", "couteau"], ["Jeanne D.", "PII-1"]),
    (Role.OFFICER, ConsentStatus.REFUSE, None, ["couteau", "parler calmement"],
     ["diagnostic de schizophrénie", "rappeler l'infirmière", "Mère", "idées suicidaires", "Jeanne D."]),
    (Role.DYAD, ConsentStatus.NON_DEMANDE, None, ["parler calmement"], ["diagnostic de schizophrénie", "Mère"]),
    (Role.DYAD, ConsentStatus.REFUSE, "danger_imminent", ["idées suicidaires", "Mère"], ["Jeanne D."]),
    (Role.DISPATCH, ConsentStatus.OBTENU, None, ["couteau", "idées suicidaires"],
     ["parler calmement", "Mère", "diagnostic de schizophrénie", "Jeanne D."]),
    (Role.DISPATCH, ConsentStatus.REFUSE, None, ["couteau"], ["idées suicidaires"]),
    (Role.ANALYST, ConsentStatus.OBTENU, None, [], ALL_TEXT),
])
def test_views_by_role(role, consent, basis, visible, hidden):
    out = repr(view_for(role, snap(consent, basis), date(2026, 12, 1)))
    for text in visible:
        assert text in out
    for text in hidden:
        assert text not in out


def test_other_roles_see_no_frame():
    for role in (Role.CALLTAKER, Role.PARTNER, Role.SUPERVISOR):
        with pytest.raises(KeyError):
            view_for(role, snap(), date(2026, 12, 1))


def test_stale_frame_always_shown_as_stale():
    for role in (Role.SOCIAL_WORKER, Role.OFFICER, Role.DISPATCH, Role.ANALYST):
        out = view_for(role, snap(), date(2027, 6, 2))  # past the review date, before any sweep
        assert out["status"] == "perimee" and out["stale"] is True and "PÉRIMÉE" in out["avertissement"]
        flagged = view_for(role, snap(stale_flag=True), date(2026, 12, 1))
        assert flagged["stale"] is True


def test_bad_input_is_named():
    with pytest.raises(ValidationError, match="au moins une particularité"):
        FrameSubmission(person_key="p_abcd1234")
    with pytest.raises(ValidationError, match="justification"):
        ConsentIn(status="refuse", legal_basis="lrsss_74_76")
    with pytest.raises(ValidationError, match="futur"):
        ConsentIn(status="obtenu", date=date.today() + timedelta(days=2))
    with pytest.raises(ValidationError, match="person_key"):
        FrameSubmission(person_key="Jean Tremblay", risques=["x"])


def test_imminent_danger_lapses_on_the_third_day():
    from services.infosocial.domain.content import legal_basis_of
    day = date(2026, 11, 20)
    assert legal_basis_of("refuse", "danger_imminent", day, day + timedelta(days=2)) == LegalBasis.DANGER_IMMINENT
    assert legal_basis_of("refuse", "danger_imminent", day, day + timedelta(days=3)) == LegalBasis.AUCUNE
    assert legal_basis_of("refuse", "lrsss_74_76", day, day + timedelta(days=300)) == LegalBasis.LRSSS_74_76
    assert legal_basis_of("obtenu", None, day, day + timedelta(days=300)) == LegalBasis.CONSENTEMENT
