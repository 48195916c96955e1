"""Bad text at the edge of intake: NUL, other control characters, DEL, a lone surrogate or U+FFFF in any
string field of any body (calls, updates, referrals, persons, identities, batches), in an EIDO document or
in the path is a 422 naming the field, before anything reaches the database. The fields are those of the
models themselves (tests.kit.string_fields walks model_fields): a new field is covered the day it is
added, a new body route makes test_every_body_route_is_covered fail until it is listed here."""
from __future__ import annotations

import copy
import json

import pytest

from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, PersonIdentity, ReferralSubmission
from dyade.paths import EIDO_STANDARD
from tests.kit import BAD_TEXT, assert_every_string_field_guarded, bad_text_test, body_routes, send_json
from services.intake.entrypoints.api import BatchRequest
from services.intake.entrypoints.code_tables import CodeTableIn
from services.intake.domain.eido import EidoError, map_eido
from services.intake.entrypoints.identities import IdentitiesRequest
from services.intake.tests.conftest import call_body


BODY_ROUTES = [("POST", "/v1/calls", CallSubmission), ("POST", "/v1/calls:batch", BatchRequest),
               ("POST", "/v1/calls/{call_id}/updates", CallUpdateSubmission),
               ("POST", "/v1/referrals", ReferralSubmission), ("POST", "/v1/persons/resolve", PersonIdentity),
               ("POST", "/v1/persons/identities", IdentitiesRequest),
               ("PUT", "/v1/code-tables/{name}", CodeTableIn)]  # intake makes its routes in create_app



def test_every_body_route_is_covered(intake):
    def key(row):
        return row[0], row[1]
    assert sorted(body_routes(intake.app.routes), key=key) == sorted(BODY_ROUTES, key=key), \
        "une route avec un corps JSON n'est pas dans BODY_ROUTES: ajoutez-la (ses champs seront vérifiés)"


def test_every_string_field_is_a_line_a_text_or_an_ascii_pattern():
    assert_every_string_field_guarded(BODY_ROUTES)


test_bad_text_in_any_field_is_a_422_naming_it = bad_text_test(BODY_ROUTES, client="intake")


@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
def test_a_call_with_bad_text_stores_nothing(intake, dispatch, unique, kind):
    body = call_body(f"NUL-{unique}")
    body["persons"][0]["last_name"] = "Trem" + BAD_TEXT[kind]
    r = send_json(intake, "POST", "/v1/calls", body, dispatch)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "persons.0.last_name", r.text
    assert "U+" in r.json()["detail"]
    assert intake.get(f"/v1/calls/NUL-{unique}", headers=dispatch).status_code == 404


def test_a_batch_item_with_bad_text_is_rejected_alone_naming_the_field(intake, dispatch, unique):
    items = [call_body(f"BN-{unique}-1"), call_body(f"BN-{unique}-2", narrative="a\x00b"),
             call_body(f"BN-{unique}-3", location={"address": "12 rue\x1b Principale", "sector": "S1"})]
    r = send_json(intake, "POST", "/v1/calls:batch", {"calls": items}, dispatch)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["reason"].startswith("narrative: caractère de contrôle interdit (U+0000)")
    assert results[2]["reason"].startswith("location.address: caractère de contrôle interdit (U+001B)")


@pytest.mark.parametrize("path", ["/v1/calls/C%00X", "/v1/referrals/R%1bX", "/v1/calls/C-1?code_table=a%00b"])
def test_bad_text_in_the_path_or_query_is_a_422_too(intake, dispatch, path):
    r = intake.get(path, headers=dispatch)
    assert r.status_code == 422 and "interdit" in r.json()["detail"], r.text


# --- EIDO: the document is parsed by intake itself; the path named is the EIDO's -----------------------------

SAMPLE = json.loads((EIDO_STANDARD / "sample-call-transfer.json").read_text())


def eido(mutate) -> dict:
    doc = copy.deepcopy(SAMPLE)
    doc["incidentComponent"] = {"$id": "i1", "lastUpdateTimeStamp": "2021-04-30T14:43:49-04:00",
                                "incidentTypeCommonRegistryText": "Police", "incidentTypeInternalCode": "EMP"}
    doc["personComponent"][0]["ncPersonComponent"] = {
        "name": [{"personGivenName": {"value": "Jean"}, "personSurName": "Tremblay"}]}
    doc["notesComponent"] = [{"$id": "n1", "notesActionComments": "Homme en crise"}]
    mutate(doc)
    return doc


def _civic(d: dict, text: str) -> None:
    comp = d["locationComponent"][0]
    comp["locationByValue"] = comp["locationByValue"].replace("Wilmington", text)


EIDO_CASES = [
    (lambda d, v: d.update({"$id": "urn:x" + v}), "$id"),
    (lambda d, v: d["incidentComponent"].update(incidentTypeInternalCode="EMP" + v),
     "incidentComponent.incidentTypeInternalCode"),
    (lambda d, v: d["incidentComponent"].update(incidentTypeCommonRegistryText="Pol" + v),
     "incidentComponent.incidentTypeCommonRegistryText"),
    (lambda d, v: d["personComponent"][0]["ncPersonComponent"]["name"][0].update(personGivenName={"value": "J" + v}),
     "personComponent[0].ncPersonComponent.name[0].personGivenName.value"),
    (lambda d, v: d["personComponent"][0]["ncPersonComponent"]["name"][0].update(personSurName="T" + v),
     "personComponent[0].ncPersonComponent.name[0].personSurName"),
    (lambda d, v: d["personComponent"][0].update(personIncidentRoleRegistryText=["caller" + v]),
     "personComponent[0].personIncidentRoleRegistryText"),
    (lambda d, v: d["notesComponent"][0].update(notesActionComments="Homme" + v), "notesComponent[0].notesActionComments"),
]


@pytest.mark.parametrize("mutate, path", EIDO_CASES)
@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
def test_bad_text_read_from_an_eido_names_its_json_path(mutate, path, kind):
    with pytest.raises(EidoError) as caught:
        map_eido(eido(lambda d: mutate(d, BAD_TEXT[kind])))
    assert caught.value.path == path and "interdit" in caught.value.problem and "U+" in caught.value.problem


@pytest.mark.parametrize("text, named", [("Wil\x7f", True), ("Wil\x9f", True),  # XML 1.0 lets these through
                                         ("Wil\uffff", False), ("Wil&#x1b;", False), ("Wil&#0;", False)])
def test_bad_text_in_an_eido_pidf_address_names_its_location(text, named):
    with pytest.raises(EidoError) as caught:
        map_eido(eido(lambda d: _civic(d, text)))
    assert caught.value.path == "locationComponent[0].locationByValue"
    assert ("U+" in caught.value.problem) if named else ("XML" in caught.value.problem)


@pytest.mark.parametrize("br", ["\n  ", "\t", "\x85", "\u2028"])
def test_line_breaks_in_eido_xml_become_spaces_and_notes_keep_theirs(br):
    sub = map_eido(eido(lambda d: _civic(d, f"Wil{br}mington"))).submission
    assert sub["location"]["address"].endswith("Wil mington, DE")
    notes = map_eido(eido(lambda d: None)).submission["narrative"]  # + the sample's EmergencyCallData.Comment
    assert notes == "Homme en crise\nThis is an example text."


@pytest.mark.parametrize("mutate, path", EIDO_CASES[:2] + EIDO_CASES[-1:])
def test_bad_text_in_an_eido_over_http_is_a_422_naming_the_path(intake, dispatch, mutate, path):
    r = send_json(intake, "POST", "/v1/eido", eido(lambda d: mutate(d, "\x00")), dispatch)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == path and "U+0000" in r.json()["detail"]


@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
def test_a_raw_topic_call_with_bad_text_is_dead_lettered_naming_the_field(kind):
    """calls.raw.v1 validates with the same CallSubmission: the record's dead-letter reason names the field."""
    from services.intake.entrypoints.raw_topic import reason_for
    body = call_body("RAW-texte")
    body["location"]["sector"] = "S" + BAD_TEXT[kind]
    value = json.dumps(body).encode()
    sub, reason = reason_for(value)
    assert sub is None
    if kind == "surrogate":  # orjson refuses an escaped lone surrogate while parsing
        assert reason.startswith("JSON invalide: no low surrogate")
    else:
        assert reason.startswith("location.sector: ") and "interdit (U+" in reason, reason
