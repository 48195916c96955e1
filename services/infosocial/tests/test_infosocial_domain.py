"""Pure domain: review dates, the sweep's decisions, referral moves, police view and views by role."""
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from dyade.contracts import ConsentStatus, LegalBasis, ReferralStatus as S, Role
from services.infosocial.domain.content import ConsentIn, FrameContent, FrameSubmission
from services.infosocial.domain.referrals import TransitionRefused, transition
from services.infosocial.domain.review import (add_months, default_review_due, review_due_on_approval,
                                               sweep_actions, today_in_montreal)
from services.infosocial.domain.visibility import (SUICIDE_WITHHELD_NOTE, Consent, FrameSnapshot, police_view,
                                                   view_for)

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
    view, withheld, suicide = police_view(CONTENT, LegalBasis.AUCUNE)
    assert view.interventions_a_privilegier == ("parler calmement",)
    assert view.particularites is None and view.mode_liberation is None
    assert [c.name for c in view.contacts] == ["Voisin"]
    assert view.risques == ("couteau",) and view.niveau_tolerance == "élevé"
    assert withheld == 5 and suicide == 0  # no basis: not even that suicide-related information exists
    full, none, suicide = police_view(CONTENT, LegalBasis.LRSSS_74_76)
    assert full.particularites == "diagnostic de schizophrénie" and none == 0 and len(full.contacts) == 2
    assert full.risques == (SUICIDE_WITHHELD_NOTE, "couteau") and suicide == 1  # no disclosure test recorded


ALL_TEXT = ["diagnostic de schizophrénie", "rappeler l'infirmière", "Mère", "idées suicidaires", "Jeanne D.",
            "PII-1", "couteau", "parler calmement"]


@pytest.mark.parametrize("role, consent, basis, visible, hidden", [
    (Role.SOCIAL_WORKER, ConsentStatus.REFUSE, None, ALL_TEXT, []),
    (Role.OFFICER, ConsentStatus.OBTENU, None, ["diagnostic de schizophrénie", "Mère", "couteau"], ["Jeanne D.", "PII-1"]),
    (Role.OFFICER, ConsentStatus.REFUSE, None, ["couteau", "parler calmement"],
     ["diagnostic de schizophrénie", "rappeler l'infirmière", "Mère", "idées suicidaires", "Jeanne D."]),
    (Role.DYAD, ConsentStatus.NON_DEMANDE, None, ["parler calmement"], ["diagnostic de schizophrénie", "Mère"]),
    (Role.DYAD, ConsentStatus.REFUSE, "danger_imminent", ["Mère", SUICIDE_WITHHELD_NOTE],
     ["Jeanne D.", "idées suicidaires"]),
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


# -- suicide-related elements: the disclosure test -------------------------------------------------------------
from services.infosocial.domain.content import (Item, Verdict, mentions_suicide,  # noqa: E402
                                                stamp_disclosures)
from services.infosocial.domain.visibility import effective_basis  # noqa: E402
from services.infosocial.entrypoints.forms import frame_form_values, parse_frame_form  # noqa: E402

TEST = {"justification": "Risque de passage à l'acte armé lors d'une intervention: les policiers doivent le savoir"}
WITHOUT_CONSENT = [LegalBasis.LRSSS_74_76, LegalBasis.LRSSS_74_76_VERDICT_NCR, LegalBasis.DANGER_IMMINENT]


@pytest.mark.parametrize("text", [
    "Idées suicidaires récurrentes", "IDÉES NOIRES depuis le décès de sa mère", "Tentative de suicide en 2023",
    "A déjà dit vouloir se tuer", "Menace de mettre fin à ses jours", "Tentative de pendaison (2021)",
    "Surdose volontaire de médicaments", "s’est presque tué en moto, propos ambigus", "Veut en finir",
    "Geste autolytique", "A parlé de s'enlever la vie", "Lettre d'adieu trouvée par sa sœur",
    "Menace de se jeter du pont", "Suicidal when intoxicated", "idees   suicidaires",
])
def test_suicide_is_found_in_the_text_whatever_the_accents_and_case(text):
    assert mentions_suicide(text)


@pytest.mark.parametrize("text", [
    "Parler calmement", "Chien agressif", "Suivie par une T.S. du CLSC", "Fin de semaine chez sa sœur",
    "Tolérance élevée", "Peur de mourir en ambulance: expliquer chaque geste",
])
def test_ordinary_words_are_not_taken_for_suicide(text):
    assert not mentions_suicide(text)


def content_with(element: dict, field: str = "risques") -> FrameContent:
    body: dict = {"interventions_a_privilegier": [{"text": "Parler calmement", "source": "police"}]}
    body[field] = element if field in ("particularites", "niveau_tolerance", "mode_liberation") else [element]
    return FrameContent.model_validate(body)


@pytest.mark.parametrize("element, shown_without_consent", [
    ({"text": "Idées suicidaires récurrentes"}, False),                          # found in the text, not ticked
    ({"text": "Épisodes à l'automne", "suicide_related": True}, False),            # ticked, the text says nothing
    ({"text": "Idées suicidaires récurrentes", "disclosure": TEST}, True),         # the test is recorded
    ({"text": "Propos suicidaires lors de l'appel de mars", "source": "police"}, True),  # police-derived
    ({"text": "Anxiété sévère"}, True),                                           # health, not about suicide
])
@pytest.mark.parametrize("basis", WITHOUT_CONSENT + [LegalBasis.CONSENTEMENT, LegalBasis.AUCUNE])
def test_a_suicide_related_health_element_needs_its_disclosure_test_without_consent(element, shown_without_consent,
                                                                                     basis):
    item = Item.model_validate(element)
    view, withheld, suicide = police_view(content_with(element), basis)
    if item.source == "police":
        expected = True
    elif basis == LegalBasis.AUCUNE:
        expected = False
    else:
        expected = shown_without_consent or basis == LegalBasis.CONSENTEMENT
    assert (item.text in view.risques) == expected
    withheld_for_suicide = not expected and basis != LegalBasis.AUCUNE
    assert suicide == int(withheld_for_suicide)
    assert (SUICIDE_WITHHELD_NOTE in view.risques) == withheld_for_suicide
    assert withheld == int(not expected and basis == LegalBasis.AUCUNE)


@pytest.mark.parametrize("field", ["particularites", "interventions_a_eviter", "mode_liberation", "contacts"])
def test_the_note_heads_the_risks_wherever_the_element_was_withheld(field):
    element = ({"name": "Sœur", "role": "proche", "phone": "450-555-0110", "when_to_call": "si propos suicidaires"}
               if field == "contacts" else {"text": "Ne pas évoquer sa tentative de suicide"})
    view, _, suicide = police_view(content_with(element, field), LegalBasis.LRSSS_74_76)
    assert suicide == 1 and view.risques == (SUICIDE_WITHHELD_NOTE,)
    assert "suicide" not in view.model_dump_json().replace(SUICIDE_WITHHELD_NOTE, "")
    assert "450-555-0110" not in view.model_dump_json()
    recorded = {**element, "disclosure": TEST}
    view, _, suicide = police_view(content_with(recorded, field), LegalBasis.LRSSS_74_76)
    assert suicide == 0 and SUICIDE_WITHHELD_NOTE not in view.risques
    assert ("450-555-0110" if field == "contacts" else "tentative de suicide") in view.model_dump_json()


def test_dispatch_officers_and_the_social_worker_each_learn_what_they_should():
    content = FrameContent.model_validate({
        "risques": [{"text": "Couteau dans la cuisine", "source": "police"}, "Idées noires l'hiver",
                    {"text": "Plan suicidaire par pendaison", "disclosure": TEST}],
        "particularites": {"text": "Crises à l'automne", "suicide_related": True}})
    frame = snap(ConsentStatus.REFUSE, "lrsss_74_76", content=content)
    day = date(2026, 12, 1)
    dispatch = view_for(Role.DISPATCH, frame, day)
    assert dispatch["safety_notes"] == [SUICIDE_WITHHELD_NOTE, "Couteau dans la cuisine",
                                        "Plan suicidaire par pendaison"]
    police = view_for(Role.DYAD, frame, day)
    assert police["elements_suicide_retenus"] == 2 and "s'adresser à l'intervenante a" in police["note_suicide"]
    assert "Idées noires" not in repr(police) and "Crises à l'automne" not in repr(police)
    assert police["police_view"]["particularites"] is None
    complete = view_for(Role.SOCIAL_WORKER, frame, day)
    marks = {(e["field"], e["index"]): (e["ticked"], e["detected"], e["reaches_police"])
             for e in complete["suicide_elements"]}
    assert marks == {("risques", 1): (False, True, False), ("risques", 2): (False, True, True),
                     ("particularites", None): (True, False, False)}
    assert view_for(Role.ANALYST, frame, day)["counts"]["risques"] == 3


def test_a_disclosure_test_is_for_health_derived_elements_and_says_why():
    with pytest.raises(ValidationError, match="interventions policières"):
        Item.model_validate({"text": "Idées suicidaires", "source": "police", "disclosure": TEST})
    with pytest.raises(ValidationError, match="justification"):
        Item.model_validate({"text": "Idées suicidaires", "disclosure": {"justification": "court"}})


def test_who_recorded_a_disclosure_test_and_when_is_the_servers_to_say():
    t1, t2 = datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 11, 20, tzinfo=timezone.utc)
    sent = {"text": "Idées suicidaires", "disclosure": {**TEST, "recorded_by": "quelqu'un", "recorded_at": t2}}
    first = stamp_disclosures(content_with(sent), [], "sw-a", t1)
    assert first.risques[0].disclosure.recorded_by == "sw-a" and first.risques[0].disclosure.recorded_at == t1
    same = stamp_disclosures(content_with({"text": "Idées suicidaires", "disclosure": TEST}), [first], "sw-b", t2)
    assert (same.risques[0].disclosure.recorded_by, same.risques[0].disclosure.recorded_at) == ("sw-a", t1)
    changed = {"text": "Idées suicidaires", "disclosure": {"justification": TEST["justification"] + ", confirmé"}}
    again = stamp_disclosures(content_with(changed), [first], "sw-b", t2)
    assert (again.risques[0].disclosure.recorded_by, again.risques[0].disclosure.recorded_at) == ("sw-b", t2)


# -- the 2024 basis: a person under a verdict of non-responsabilité criminelle or unfitness ---------------------
VERDICT = {"kind": "non_responsabilite_criminelle", "date": "2025-03-14", "reference": "500-01-123456-241"}
NCR_CONSENT = {"status": "refuse", "legal_basis": "lrsss_74_76_verdict_ncr",
               "justification": "Intervention adaptée: personne visée par un verdict NCR (loi de 2024)"}


def test_the_2024_basis_is_recorded_only_with_the_verdict():
    with pytest.raises(ValidationError, match="verdict: obligatoire"):
        FrameSubmission(person_key="p_abcd1234", risques=["Anxiété"], consent=NCR_CONSENT)
    with pytest.raises(ValidationError, match="justification"):
        ConsentIn(status="refuse", legal_basis="lrsss_74_76_verdict_ncr")
    ok = FrameSubmission(person_key="p_abcd1234", risques=["Anxiété"], consent=NCR_CONSENT, verdict=VERDICT)
    assert ok.content().verdict == Verdict.model_validate(VERDICT)
    for bad, field in (({**VERDICT, "kind": "coupable"}, "verdict.kind"), ({**VERDICT, "reference": ""}, "reference"),
                       ({**VERDICT, "date": (date.today() + timedelta(days=3)).isoformat()}, "futur"),
                       ({k: v for k, v in VERDICT.items() if k != "date"}, "verdict.date")):
        with pytest.raises(ValidationError, match=field):
            FrameSubmission(person_key="p_abcd1234", risques=["Anxiété"], consent=NCR_CONSENT, verdict=bad)


def test_the_2024_basis_lets_health_elements_through_like_lrsss_and_the_verdict_stays_out_of_the_police_view():
    content = CONTENT.model_copy(update={"verdict": Verdict.model_validate(VERDICT)})
    consent = Consent(status=ConsentStatus.REFUSE, legal_basis="lrsss_74_76_verdict_ncr")
    day = date(2026, 12, 1)
    assert effective_basis(consent, content, day) == LegalBasis.LRSSS_74_76_VERDICT_NCR
    ncr = police_view(content, LegalBasis.LRSSS_74_76_VERDICT_NCR)
    lrsss = police_view(content, LegalBasis.LRSSS_74_76)
    assert ncr.view.model_dump(exclude={"legal_basis"}) == lrsss.view.model_dump(exclude={"legal_basis"})
    assert ncr[1:] == lrsss[1:]
    for role in (Role.OFFICER, Role.DISPATCH, Role.ANALYST):
        out = repr(view_for(role, snap(ConsentStatus.REFUSE, "lrsss_74_76_verdict_ncr", content=content), day))
        assert "500-01-123456-241" not in out and "non_responsabilite" not in out
    assert "500-01-123456-241" in repr(view_for(Role.SOCIAL_WORKER, snap(content=content), day))
    # a version without the verdict does not carry the basis
    assert effective_basis(consent, CONTENT, day) == LegalBasis.AUCUNE
    assert view_for(Role.OFFICER, snap(ConsentStatus.REFUSE, "lrsss_74_76_verdict_ncr"), day)["legal_basis"] == "aucune"


# -- the page's form ---------------------------------------------------------------------------------------------
def test_the_form_marks_suicide_and_the_disclosure_test_and_prefills_them_back():
    form = {"person_key": "p_abcd1234", "risques": "[police] Couteau\n[suicide] Crises l'hiver\n"
                                                   "[divulgation: " + TEST["justification"] + "] Idées suicidaires",
            "contacts": "[suicide] Sœur ; proche ; 450-555-0110 ; si idées noires",
            "particularites": "[police] [suicide] Propos lors de l'appel", "consent_status": "refuse",
            "consent_legal_basis": "lrsss_74_76_verdict_ncr", "consent_justification": NCR_CONSENT["justification"],
            "verdict_kind": VERDICT["kind"], "verdict_date": VERDICT["date"], "verdict_reference": VERDICT["reference"]}
    sub = FrameSubmission.model_validate(parse_frame_form(form))
    assert [(r.text, r.source, r.suicide_related, r.disclosure is not None) for r in sub.risques] == [
        ("Couteau", "police", False, False), ("Crises l'hiver", "sante", True, False),
        ("Idées suicidaires", "sante", True, True)]
    assert sub.risques[2].disclosure.justification == TEST["justification"]
    assert sub.contacts[0].suicide_related and sub.contacts[0].name == "Sœur"
    assert sub.particularites.source == "police" and sub.particularites.suicide_related
    assert sub.verdict.reference == VERDICT["reference"] and sub.consent.legal_basis == "lrsss_74_76_verdict_ncr"
    frame = snap(ConsentStatus.REFUSE, "lrsss_74_76_verdict_ncr", content=sub.content())
    again = parse_frame_form(frame_form_values(frame) | {"consent_justification": NCR_CONSENT["justification"]})
    assert FrameSubmission.model_validate(again).content() == sub.content()
    with pytest.raises(ValidationError, match="verdict.date"):
        FrameSubmission.model_validate(parse_frame_form({**form, "verdict_date": ""}))
