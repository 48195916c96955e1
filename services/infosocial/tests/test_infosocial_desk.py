"""The social worker's desk against the real broker, PostgreSQL, a real intake and triage's read views:
suggestions deduplicated per person and ranked, confirmed into referrals or dismissed with a reason, lists
paged and filtered on the server (state, criterion, sector, age), approvals and reviews first, finding a
person by name and birth date (audited by intake, social workers only), the caseload's calls per month."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dyade.broker import free_port
from dyade.contracts import (Criterion, ReferralFiled, ReferralStatusChanged, ReferralSuggested, ReferrerType,
                             decode)
from dyade.contracts.referrals import ReferralPayload, ReferralSuggestedPayload
from dyade.contracts.topics import REFERRALS_STATUS
from dyade.kafka import publish, wait_until
from tests.kit import keyed
from services.infosocial.adapters.identities import SEARCH_PURPOSE

from infosocial_helpers import SW_A, SW_B, create_active, frame_body, known_to_intake

NOW = datetime.now(timezone.utc).replace(microsecond=0)
C = Criterion


def new_key() -> str:
    return "p_" + uuid.uuid4().hex[:20]


def suggest(producer, person: str, call_id: str, *criteria: Criterion, at: datetime = NOW, reasons=()) -> str:
    sid = f"S-{uuid.uuid4().hex[:12]}"
    payload = ReferralSuggestedPayload(suggestion_id=sid, person_key=person, call_id=call_id, criteria=criteria,
                                       reasons=tuple(reasons) or ("Appels récurrents concernant la personne (30 jours)",),
                                       ruleset_version="triage-r2-test")
    publish(producer, ReferralSuggested.new(payload=payload, occurred_at=at, source="triage",
                                            correlation_id=call_id)).get(timeout=10)
    return sid


def file(producer, person: str, *criteria: Criterion, calls=(), referrer=ReferrerType.POLICIER) -> str:
    rid = f"R-{uuid.uuid4().hex[:10]}"
    payload = ReferralPayload(referral_id=rid, referrer_type=referrer, referrer_key="k_agent1", person_key=person,
                              criteria=criteria, linked_call_ids=tuple(calls))
    publish(producer, ReferralFiled.new(payload=payload, occurred_at=NOW, source="intake",
                                        correlation_id=rid)).get(timeout=10)
    return rid


def suggestions(api, sw, **params) -> dict:
    r = api.get("/v1/desk/suggestions", params=params, headers=sw[0])
    assert r.status_code == 200, r.text
    return r.json()


def in_sector(api, sw, sector: str, count: int, **params) -> dict:
    """The sector's suggestions once the desk has read every call's sector from triage."""
    return wait_until(lambda: (p := suggestions(api, sw, sector=sector, per_page=100, **params))["total"] >= count
                      and p, timeout=60, interval=0.2)


def open_suggestion_of(api, sw, person: str, sector: str) -> dict | None:
    items = suggestions(api, sw, sector=sector, per_page=100)["items"]
    return next((x for x in items if x["person_key"] == person), None)


# -- suggestions: one per person, ranked, in words --------------------------------------------------------------
def test_a_flood_of_suggestions_becomes_one_ranked_line_per_person(api, sw, producer, triage, unique):
    sector = f"S{unique}"
    flooded, calm = new_key(), new_key()
    calls = [f"C-{unique}-{i}" for i in range(5)]
    for i, call in enumerate(calls):
        triage.add_call(flooded, call, NOW - timedelta(hours=10 - i), sector=sector)
    triage.add_call(calm, f"C-{unique}-calm", NOW - timedelta(minutes=5), sector=sector)
    steps = [(C.RECURRENCE,), (C.RECURRENCE, C.DANGEROSITE_PREVISIBLE), (C.RECURRENCE,),
             (C.COMPLEXITE_INTERVENTION,), (C.DANGEROSITE_IMMINENTE,)]
    first = None
    for i, (call, criteria) in enumerate(zip(calls, steps)):
        sid = suggest(producer, flooded, call, *criteria, at=NOW - timedelta(hours=10 - i),
                      reasons=("Appels récurrents concernant la personne (30 jours)",) + (
                          ("Menaces de mort (danger imminent)",) if C.DANGEROSITE_IMMINENTE in criteria else ()))
        first = first or sid
    suggest(producer, calm, f"C-{unique}-calm", C.RECURRENCE, at=NOW - timedelta(minutes=5))

    def settled():
        p = suggestions(api, sw, sector=sector)
        mine = {x["person_key"]: x for x in p["items"]}
        return p if mine.get(flooded, {}).get("calls") == 5 and calm in mine else None
    page = wait_until(settled, timeout=60, interval=0.2)
    assert page["total"] == 2  # six suggestions, two persons
    top, second = page["items"]
    assert (top["person_key"], second["person_key"]) == (flooded, calm)  # imminent danger before recurrence
    assert top["suggestion_id"] == first and top["state"] == "a_confirmer"
    assert top["criteria"] == ["recurrence", "complexite_intervention", "dangerosite_previsible",
                               "dangerosite_imminente"]
    assert "Dangerosité imminente" in top["criteria_labels"]
    assert top["reasons"] == ["Appels récurrents concernant la personne (30 jours)", "Menaces de mort (danger imminent)"]
    assert top["latest_call_id"] == calls[-1] and top["sector"] == sector
    assert datetime.fromisoformat(top["first_suggested_at"]) == NOW - timedelta(hours=10)
    assert datetime.fromisoformat(top["last_seen_at"]) == NOW - timedelta(hours=6)
    # most recent first, and still nothing in the referral queue: a suggestion is not a referral
    assert [x["person_key"] for x in suggestions(api, sw, sector=sector, sort="recentes")["items"]] == [calm, flooded]
    assert api.get("/v1/referrals", params={"person_key": flooded}, headers=sw[0]).json() == []
    # the desk read the sectors from triage with the social worker's own token
    assert (SW_A, "social_worker", f"/v1/calls/{calls[-1]}/decision") in triage.reads

    html = api.get("/suggestions", params={"secteur": sector}, headers=sw[0]).text
    assert html.count("data-suggestion=") == 2 and "Dangerosité imminente" in html
    assert "Menaces de mort (danger imminent)" in html and "5 appel(s) signalé(s) par le triage" in html
    assert ">dangerosite_imminente<" not in html  # codes never shown as words
    english = api.get("/suggestions", params={"secteur": sector, "lang": "en"}, headers=sw[0])
    assert "Imminent danger" in english.text and "5 call(s) flagged by triage" in english.text
    assert english.cookies.get("dyade_lang") == "en"
    assert "Imminent danger" in api.get("/suggestions", params={"secteur": sector}, headers=sw[0]).text  # kept
    api.cookies.delete("dyade_lang")


def test_lists_are_paged_and_filtered_on_the_server(api, sw, producer, triage, unique):
    sector = f"S{unique}"
    kinds = [C.DANGEROSITE_IMMINENTE] * 10 + [C.DANGEROSITE_PREVISIBLE] * 10 + [C.RECURRENCE] * 10
    for i, criterion in enumerate(kinds):
        person, call = new_key(), f"C-{unique}-{i}"
        triage.add_call(person, call, NOW - timedelta(minutes=i), sector=sector)
        suggest(producer, person, call, criterion, at=NOW - timedelta(minutes=i))
    in_sector(api, sw, sector, 30)
    pages = [suggestions(api, sw, sector=sector, per_page=10, page=n) for n in (1, 2, 3)]
    assert [(p["total"], p["pages"], len(p["items"])) for p in pages] == [(30, 3, 10)] * 3
    assert [{x["priority"] for x in p["items"]} for p in pages] == [{0}, {1}, {2}]
    ids = [x["suggestion_id"] for p in pages for x in p["items"]]
    assert len(set(ids)) == 30
    assert suggestions(api, sw, sector=sector, per_page=10, page=4)["items"] == []
    assert suggestions(api, sw, sector=sector, criterion="dangerosite_previsible")["total"] == 10
    assert suggestions(api, sw, sector=f"X{unique}")["total"] == 0
    assert api.get("/v1/desk/suggestions", params={"per_page": 1000}, headers=sw[0]).status_code == 422
    assert api.get("/v1/desk/suggestions", headers={}).status_code == 401

    html = api.get("/suggestions", params={"secteur": sector, "par_page": 10, "page": 2}, headers=sw[0]).text
    assert html.count("data-suggestion=") == 10 and "Page 2 sur 3" in html
    assert f"page=3" in html and f"secteur={sector}" in html  # the pager keeps the filters
    assert "Dangerosité prévisible" in html


# -- confirm, dismiss, join ------------------------------------------------------------------------------------------
def test_confirming_a_suggestion_turns_it_into_a_referral(api, sw, token, producer, triage, reader, unique):
    sector, person = f"S{unique}", new_key()
    triage.add_call(person, f"C-{unique}-a", NOW - timedelta(hours=2), sector=sector)
    sid = suggest(producer, person, f"C-{unique}-a", C.RECURRENCE, C.DANGEROSITE_PREVISIBLE,
                  at=NOW - timedelta(hours=2))
    triage.add_call(person, f"C-{unique}-b", NOW - timedelta(hours=1), sector=sector)
    suggest(producer, person, f"C-{unique}-b", C.RECURRENCE, at=NOW - timedelta(hours=1))
    wait_until(lambda: (x := open_suggestion_of(api, sw, person, sector)) and x["calls"] == 2, timeout=60)

    r = api.post(f"/v1/suggestions/{sid}/confirm", json={"note": "connue du CLSC, à évaluer"}, headers=sw[0])
    assert r.status_code == 200, r.text
    ref = r.json()
    assert (ref["referral_id"], ref["status"], ref["origin"], ref["referrer_type"], ref["handled_by"]) == (
        sid, "recue", "suggested", "triage", SW_A)
    assert ref["linked_call_ids"] == [f"C-{unique}-a", f"C-{unique}-b"] and ref["priority"] == 1
    assert api.get(f"/v1/suggestions/{sid}", headers=sw[0]).json()["state"] == "confirmee"
    assert api.post(f"/v1/suggestions/{sid}/confirm", headers=sw[0]).status_code == 409
    steps = api.get(f"/v1/referrals/{sid}", headers=sw[0]).json()["steps"]
    assert steps[0]["by"] == SW_A and "2 appel(s) signalé(s)" in steps[0]["note"] and "CLSC" in steps[0]["note"]
    event = decode(reader(REFERRALS_STATUS).wait_for_records(keyed(person), 1)[0].value, expect=ReferralStatusChanged)
    assert (event.payload.previous, event.payload.status, event.payload.referrer_type) == (None, "recue", "triage")
    assert set(event.payload.criteria) == {"recurrence", "dangerosite_previsible"}
    # a later suggestion joins the referral: no new line to confirm
    suggest(producer, person, f"C-{unique}-c", C.DANGEROSITE_IMMINENTE)
    wait_until(lambda: f"C-{unique}-c" in api.get(f"/v1/referrals/{sid}", headers=sw[0]).json()["linked_call_ids"],
               timeout=60)
    assert open_suggestion_of(api, sw, person, sector) is None
    assert api.post(f"/v1/suggestions/{sid}/confirm", headers=token("officer")).status_code == 403


def test_dismissing_records_why_and_the_same_situation_does_not_come_back(api, sw, producer, triage, unique):
    sector, person = f"S{unique}", new_key()
    triage.add_call(person, f"C-{unique}-1", NOW - timedelta(hours=3), sector=sector)
    sid = suggest(producer, person, f"C-{unique}-1", C.RECURRENCE, at=NOW - timedelta(hours=3))
    wait_until(lambda: open_suggestion_of(api, sw, person, sector), timeout=60)
    assert api.post(f"/v1/suggestions/{sid}/dismiss", json={}, headers=sw[0]).status_code == 422
    r = api.post(f"/v1/suggestions/{sid}/dismiss", json={"reason": "autre"}, headers=sw[0])
    assert r.status_code == 422 and "préciser" in r.json()["detail"]
    r = api.post(f"/v1/suggestions/{sid}/dismiss", json={"reason": "deja_suivie", "note": "suivie au CRDI"},
                 headers=sw[1])
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["state"], out["dismiss_reason"], out["note"], out["decided_by"]) == (
        "ecartee", "deja_suivie", "suivie au CRDI", SW_B)
    assert api.post(f"/v1/suggestions/{sid}/confirm", headers=sw[0]).status_code == 409
    # the same situation again: counted on the dismissed suggestion, not reopened
    triage.add_call(person, f"C-{unique}-2", NOW - timedelta(hours=2), sector=sector)
    suggest(producer, person, f"C-{unique}-2", C.RECURRENCE, at=NOW - timedelta(hours=2))
    wait_until(lambda: api.get(f"/v1/suggestions/{sid}", headers=sw[0]).json()["calls"] == 2, timeout=60)
    assert open_suggestion_of(api, sw, person, sector) is None
    # imminent danger is a new situation: a new suggestion, at once
    triage.add_call(person, f"C-{unique}-3", NOW - timedelta(hours=1), sector=sector)
    new = suggest(producer, person, f"C-{unique}-3", C.RECURRENCE, C.DANGEROSITE_IMMINENTE,
                  at=NOW - timedelta(hours=1))
    found = wait_until(lambda: open_suggestion_of(api, sw, person, sector), timeout=60)
    assert found["suggestion_id"] == new and found["priority"] == 0
    dismissed = suggestions(api, sw, sector=sector, state="ecartee")["items"]
    assert [x["suggestion_id"] for x in dismissed] == [sid]
    page = api.get(f"/personnes/{person}", headers=sw[0]).text
    assert "écartée" in page and "déjà suivie par un partenaire" in page


def test_a_referral_filed_by_a_person_absorbs_the_open_suggestion(api, sw, producer, triage, unique):
    sector, person = f"S{unique}", new_key()
    triage.add_call(person, f"C-{unique}-s", NOW, sector=sector)
    sid = suggest(producer, person, f"C-{unique}-s", C.RECURRENCE)
    wait_until(lambda: open_suggestion_of(api, sw, person, sector), timeout=60)
    rid = file(producer, person, C.COMPLEXITE_INTERVENTION, calls=(f"C-{unique}-f",),
               referrer=ReferrerType.PARTENAIRE_COMMUNAUTAIRE)
    wait_until(lambda: api.get(f"/v1/suggestions/{sid}", headers=sw[0]).json()["state"] == "jointe", timeout=60)
    assert api.get(f"/v1/suggestions/{sid}", headers=sw[0]).json()["referral_id"] == rid
    ref = api.get(f"/v1/referrals/{rid}", headers=sw[0]).json()
    assert ref["linked_call_ids"] == [f"C-{unique}-f", f"C-{unique}-s"] and ref["origin"] == "filed"


# -- the desk page ---------------------------------------------------------------------------------------------------
def test_approvals_and_reviews_come_first_then_referrals_in_words(api, sw, producer, triage, unique, token,
                                                                  reading_from, intake_url):
    reading_from(intake_url)
    person = known_to_intake(intake_url, token, {"first_name": "Odette", "last_name": f"Lapointe{unique}",
                                                 "birth_date": "1962-07-14"})
    named = f"Odette Lapointe{unique} (1962-07-14)"  # as intake discloses her (its audited read)
    assert api.post("/v1/frames", json=frame_body(person, display_name=f"Attente {unique}"),
                    headers=sw[0]).status_code == 201
    stranger = new_key()  # a key intake does not know: the page shows the key
    assert api.post("/v1/frames", json=frame_body(stranger, display_name=f"Inconnue {unique}"),
                    headers=sw[0]).status_code == 201
    sector = f"S{unique}"
    triage.add_call(person, f"C-{unique}-r", NOW, sector=sector)
    rid = file(producer, person, C.DANGEROSITE_PREVISIBLE, calls=(f"C-{unique}-r",), referrer=ReferrerType.PREPOSE_911)
    wait_until(lambda: api.get(f"/v1/referrals/{rid}", headers=sw[0]).status_code == 200, timeout=60)
    counts = api.get("/v1/desk", headers=sw[0]).json()
    assert counts["frames"]["approvals"] >= 1 and counts["referrals_open"] >= 1
    html = wait_until(lambda: (h := api.get("/", params={"secteur": sector}, headers=sw[0]).text)
                      and f'data-referral="{rid}"' in h and h, timeout=60, interval=0.2)
    panel, refs = html.index('id="a-faire"'), html.index('id="references"')
    approvals = html[html.index('id="approbations"'):html.index('id="revisions"')]
    assert panel < html.index('id="approbations"') < refs  # the frames to approve, in the first panel
    assert f'<a href="/personnes/{person}">{named}</a>' in approvals
    assert f'<a href="/personnes/{stranger}">{stranger}</a>' in approvals
    # the name kept beside the frame is shown in no list (only intake's audited read names a person)
    for path, params in (("/", {"secteur": sector}), ("/fiches", {}), ("/fiches", {"liste": "approbations"})):
        page = api.get(path, params=params, headers=sw[0]).text
        assert f"Attente {unique}" not in page and f"Inconnue {unique}" not in page, path
    listed = api.get("/fiches", params={"liste": "approbations"}, headers=sw[0]).text
    assert f'<a href="/personnes/{person}">{named}</a>' in listed
    assert f'<a href="/personnes/{stranger}">{stranger}</a>' in listed
    frames = api.get("/v1/frames", params={"pending": True}, headers=sw[0])
    assert frames.status_code == 200 and {person, stranger} <= {f["person_key"] for f in frames.json()}
    assert "display_name" not in frames.json()[0] and f"Attente {unique}" not in frames.text
    assert named not in frames.text  # the JSON list gives keys; the pages ask intake
    assert html.index('id="recherche"') < refs
    n = int(re.search(r'id="n-approbations">(\d+)<', html).group(1))
    assert n == counts["frames"]["approvals"]
    row = html[html.index(f'data-referral="{rid}"'):]
    row = row[:row.index("</tr>")]
    assert "Dangerosité prévisible" in row and "Préposé 9-1-1" in row and sector in row and "Reçue" in row
    refs_api = api.get("/v1/desk/referrals", params={"sector": sector, "origin": "personnes"}, headers=sw[0]).json()
    assert [x["referral_id"] for x in refs_api["items"]] == [rid]
    assert api.get("/v1/desk/referrals", params={"sector": sector, "origin": "triage"},
                   headers=sw[0]).json()["total"] == 0
    assert api.get("/v1/desk/referrals", params={"sector": sector, "state": "fermee"},
                   headers=sw[0]).json()["total"] == 0
    # moving it from the filtered list comes back to the same filtered list
    r = api.post(f"/references/{rid}/statut", data={"status": "admissible", "retour": f"/?secteur={sector}"},
                 headers=sw[0], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/?secteur={sector}&msg=")
    assert api.post(f"/references/{rid}/statut", data={"status": "fermee", "retour": "//ailleurs.example"},
                    headers=sw[0], follow_redirects=False).headers["location"].startswith("/?")
    assert api.get(f"/v1/referrals/{rid}", headers=sw[0]).json()["handled_by"] == SW_A


# -- finding a person by name and birth date ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def known_person(intake_url, token):
    unique = uuid.uuid4().hex[:8]
    last = f"Tremblay{unique}"
    return known_to_intake(intake_url, token, {"first_name": "Ginette", "last_name": last,
                                               "birth_date": "1954-03-02"}), last


def test_finding_a_person_by_name_and_birth_date_is_audited_and_for_social_workers_only(
        api, sw, token, known_person, reading_from, intake_url, producer):
    key, last = known_person
    reading_from(intake_url)
    file(producer, key, C.RECURRENCE)
    wait_until(lambda: api.get("/v1/referrals", params={"person_key": key}, headers=sw[0]).json(), timeout=60)
    body = {"last_name": last, "first_name": "Ginette", "birth_date": "1954-03-02"}
    r = api.post("/v1/persons/search", json=body, headers=sw[0])
    assert r.status_code == 200, r.text
    found = r.json()
    assert (found["found"], found["person_key"], found["match"]) == (True, key, "exact")
    assert found["name"] == f"Ginette {last} (1954-03-02)"
    assert [x["status"] for x in found["infosocial"]["referrals"]] == ["recue"]
    near = api.post("/v1/persons/search", json=body | {"last_name": last[:-1] + "x"}, headers=sw[0]).json()
    assert near["person_key"] == key and near["match"] == "fuzzy"
    for role in ("officer", "calltaker", "admin", "analyst"):
        assert api.post("/v1/persons/search", json=body, headers=token(role)).status_code == 403
    assert api.post("/v1/persons/search", json={"last_name": last}, headers=sw[0]).status_code == 422
    reads = httpx.get(intake_url + "/v1/persons/identity-reads", params={"person_key": key},
                      headers=token("admin")).json()
    assert (SW_A, "social_worker", SEARCH_PURPOSE) in [(x["subject"], x["role"], x["purpose"]) for x in reads]

    page = api.post("/recherche", data={"nom": last, "prenom": "Ginette", "naissance": "1954-03-02"}, headers=sw[1])
    assert page.status_code == 200 and f"Ginette {last} (1954-03-02)" in page.text
    assert f'href="/personnes/{key}"' in page.text and "Reçue" in page.text
    assert last not in str(page.url)  # POST: the name stays out of the URL
    missing = api.post("/recherche", data={"nom": f"Personne{uuid.uuid4().hex[:8]}", "naissance": "1990-01-01"},
                       headers=sw[1])
    assert missing.status_code == 200 and "Aucune personne connue" in missing.text
    assert api.post("/recherche", data={"nom": last}, headers=sw[1]).status_code == 422
    assert api.post("/recherche", data=body, headers=token("officer")).status_code == 403


def test_search_says_so_when_intake_is_down(api, sw, reading_from, known_person):
    _, last = known_person
    reading_from(f"http://127.0.0.1:{free_port()}")
    r = api.post("/v1/persons/search", json={"last_name": last, "birth_date": "1954-03-02"}, headers=sw[0])
    assert r.status_code == 503 and "intake" in r.json()["detail"]
    page = api.post("/recherche", data={"nom": last, "naissance": "1954-03-02"}, headers=sw[0])
    assert page.status_code == 200 and "recherche indisponible" in page.text


def test_the_age_filter_reads_birth_dates_from_intake(api, sw, token, producer, triage, reading_from, intake_url,
                                                     unique):
    reading_from(intake_url)
    sector = f"S{unique}"
    people = {}
    for band, birth in (("mineur", "2012-05-01"), ("adulte", "1980-05-01"), ("aine", "1940-05-01")):
        people[band] = known_to_intake(intake_url, token, {"first_name": band.title(), "last_name": f"Age{unique}",
                                                           "birth_date": birth})
        triage.add_call(people[band], f"C-{unique}-{band}", NOW, sector=sector)
        suggest(producer, people[band], f"C-{unique}-{band}", C.RECURRENCE)
    in_sector(api, sw, sector, 3)
    for band, key in people.items():
        got = suggestions(api, sw, sector=sector, age=band)
        assert [x["person_key"] for x in got["items"]] == [key], band
    reads = httpx.get(intake_url + "/v1/persons/identity-reads", params={"person_key": people["mineur"]},
                      headers=token("admin")).json()
    assert "infosocial: filtre par âge" in {x["purpose"] for x in reads}
    html = api.get("/suggestions", params={"secteur": sector, "age": "aine"}, headers=sw[0]).text
    assert html.count("data-suggestion=") == 1 and "date de naissance" in html


# -- the caseload --------------------------------------------------------------------------------------------------------
def test_the_caseload_shows_calls_per_month_before_and_since_the_first_contact(api, sw, producer, triage, unique):
    person = new_key()
    contact = NOW - timedelta(days=100)
    for i in range(6):  # 6 calls in the 90 days before the first contact: 2 per month
        triage.add_call(person, f"C-{unique}-b{i}", contact - timedelta(days=5 + 12 * i))
    triage.add_call(person, f"C-{unique}-a0", NOW - timedelta(days=20))  # 1 call in the last 90 days
    rid = file(producer, person, C.RECURRENCE)
    wait_until(lambda: api.get(f"/v1/referrals/{rid}", headers=sw[0]).status_code == 200, timeout=60)
    for body in ({"status": "admissible"}, {"status": "premier_contact", "first_contact_at": contact.isoformat()}):
        assert api.post(f"/v1/referrals/{rid}/status", json=body, headers=sw[0]).status_code == 200

    mine = api.get("/v1/caseload", params={"per_page": 100}, headers=sw[0]).json()
    item = next(x for x in mine["items"] if x["person_key"] == person)
    assert item["first_contact_source"] == "referral" and item["referral"]["status"] == "premier_contact"
    assert item["calls_per_month"] == {"before": 2.0, "before_calls": 6, "before_window_days": 90, "after": 0.3,
                                       "after_calls": 1, "after_window_days": 90, "too_early": False}
    assert (SW_A, "social_worker", f"/v1/persons/{person}/triage") in triage.reads
    others = api.get("/v1/caseload", params={"per_page": 100}, headers=sw[1]).json()
    assert person not in {x["person_key"] for x in others["items"]}
    team = api.get("/v1/caseload", params={"per_page": 100, "team": True}, headers=sw[1]).json()
    assert person in {x["person_key"] for x in team["items"]}
    html = api.get("/suivis", headers=sw[0]).text
    row = html[html.index(f'data-person="{person}"'):]
    assert "2,0" in row[:row.index("</tr>")] and "0,3" in row[:row.index("</tr>")]


def test_the_caseload_names_a_person_as_intake_does_not_by_the_frames_display_name(api, sw, token, triage, unique,
                                                                                  reading_from, intake_url):
    reading_from(intake_url)
    known = known_to_intake(intake_url, token, {"first_name": "Rosaire", "last_name": f"Gagnon{unique}",
                                                "birth_date": "1971-11-23"})
    stranger = new_key()
    create_active(api, sw, known, display_name=f"Suivi {unique}")
    create_active(api, sw, stranger, display_name=f"Inconnu {unique}")
    listed = api.get("/v1/caseload", params={"per_page": 100}, headers=sw[0])
    assert listed.status_code == 200
    items = {x["person_key"]: x for x in listed.json()["items"]}
    assert items[known]["frame"] and items[stranger]["frame"] and "display_name" not in items[known]["frame"]
    assert f"Suivi {unique}" not in listed.text and f"Inconnu {unique}" not in listed.text
    team = api.get("/v1/caseload", params={"per_page": 100, "team": True}, headers=sw[1]).text
    assert known in team and f"Suivi {unique}" not in team
    html = api.get("/suivis", headers=sw[0]).text
    assert f"Suivi {unique}" not in html and f"Inconnu {unique}" not in html
    row = html[html.index(f'data-person="{known}"'):]
    assert f'<a href="/personnes/{known}">Rosaire Gagnon{unique} (1971-11-23)</a>' in row[:row.index("</tr>")]
    row = html[html.index(f'data-person="{stranger}"'):]
    assert f'<a href="/personnes/{stranger}">{stranger}</a>' in row[:row.index("</tr>")]
    reads = httpx.get(intake_url + "/v1/persons/identity-reads", params={"person_key": known},
                      headers=token("admin")).json()
    assert (SW_A, "infosocial: mes suivis") in {(x["subject"], x["purpose"]) for x in reads}  # intake audited it
