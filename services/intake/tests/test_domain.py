"""Pure logic: names, keys, fuzzy matching, addresses, code tables, EIDO mapping (no I/O)."""
from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from dyade.contracts import CallCategory
from services.intake.domain.codes import CodeTable, UnknownCode
from services.intake.domain.eido import UNSPECIFIED_TYPE, EidoError, call_id_of, map_eido
from services.intake.domain.identity import (best_fuzzy_match, identity_of, name_hash, normalise_name,
                                             person_key_for)
from services.intake.domain.locations import block_level, is_unknown, location_key, normalise_address
from dyade.paths import EIDO_STANDARD

SAMPLE = EIDO_STANDARD / "sample-call-transfer.json"


def test_names_ignore_accents_case_hyphens_apostrophes_and_order():
    a = normalise_name("Jean-François", "Tremblay")
    assert a == normalise_name("jean francois", "TREMBLAY") == normalise_name("Tremblay", "Jean François")
    assert normalise_name("Marie-Ève", "O'Connor") == normalise_name("marie eve", "OConnor".replace("OC", "O C"))
    assert a == "francois jean tremblay"


def test_same_identity_same_hash_and_birth_date_matters():
    one = identity_of("Jean-François", "Tremblay", date(1980, 5, 17), None)
    two = identity_of("JEAN FRANCOIS", "tremblay", date(1980, 5, 17), None)
    other = identity_of("Jean-François", "Tremblay", date(1981, 5, 17), None)
    assert name_hash("k", one) == name_hash("k", two) != name_hash("k", other)
    assert name_hash("k", one) != name_hash("other-key", one)
    assert person_key_for("k", one.name_fingerprint()).startswith("p_")


def test_fuzzy_match_takes_near_spellings_only():
    candidates = [("p_a", normalise_name("Jean-François", "Tremblay")), ("p_b", normalise_name("Marc", "Gagnon"))]
    key, conf = best_fuzzy_match(normalise_name("Jean-Francois", "Tremblai"), candidates)
    assert key == "p_a" and 0.88 <= conf < 1
    assert best_fuzzy_match(normalise_name("Jeanne", "Bouchard"), candidates) is None


def test_addresses_block_level_and_intersections_in_any_order():
    assert block_level("1234 rue Principale, Terrebonne") == "1200 bloc rue Principale, Terrebonne"
    assert block_level("2100 BLOCK SHATTUCK AVE") == "2100 BLOCK SHATTUCK AVE"
    assert normalise_address("SHATTUCK AVE/CHANNING WAY") == normalise_address("channing way / shattuck ave")
    assert location_key("k", "1234 rue Principale") == location_key("k", "1250 RUE PRINCIPALE")
    assert location_key("k", "1234 rue Principale").startswith("l_")
    for blank in ("", " / ", "<UNKNOWN> / ", "UNKNOWN / "):
        assert is_unknown(blank)
    assert not is_unknown("UNIVERSITY AVE/W FRONTAGE RD")


def test_code_table_rejects_or_falls_back():
    strict = CodeTable.build("t", {"EMP": "etat_mental_perturbe"})
    assert strict.category_of(" emp ") == CallCategory.ETAT_MENTAL_PERTURBE
    with pytest.raises(UnknownCode, match="ZZZ"):
        strict.category_of("ZZZ")
    lenient = CodeTable.build("t", {"5150": "etat_mental_perturbe"}, "autre")
    assert lenient.category_of("ZZZ") == CallCategory.AUTRE
    with pytest.raises(ValueError, match="catégorie inconnue"):
        CodeTable.build("t", {"X": "pas_une_categorie"})


def test_standard_eido_sample_maps_to_a_call():
    mapped = map_eido(json.loads(SAMPLE.read_text()))
    sub = mapped.submission
    assert sub["call_id"] == "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
    assert sub["received_at"] == "2021-04-30T14:40:00-04:00"
    assert sub["nature_code"] == UNSPECIFIED_TYPE
    assert sub["location"]["address"] == "42 W Cellular Street, Wilmington, DE"
    assert sub["narrative"] == "This is an example text."
    assert mapped.skipped_persons == 1 and sub["persons"] == []


def eido_with_incident(**incident):
    doc = json.loads(SAMPLE.read_text())
    doc["incidentComponent"] = {"$id": "i1", "lastUpdateTimeStamp": "2021-04-30T14:43:49-04:00", **incident}
    return doc


def test_eido_incident_type_persons_and_notes():
    doc = eido_with_incident(incidentTypeCommonRegistryText="Police", incidentTypeInternalCode="EMP")
    doc["personComponent"][0]["ncPersonComponent"] = {
        "name": [{"personGivenName": {"value": "Jean-François"}, "personSurName": "Tremblay"}],
        "birthDate": [{"date": [{"value": "1980-05-17"}]}]}
    doc["notesComponent"] = [{"$id": "n1", "notesActionComments": "<p>Homme en crise &amp; agité</p>"}]
    sub = map_eido(doc).submission
    assert sub["nature_code"] == "EMP"
    assert sub["persons"] == [{"first_name": "Jean-François", "last_name": "Tremblay", "birth_date": "1980-05-17",
                               "role": "appelant"}]
    assert sub["narrative"].startswith("Homme en crise & agité")


@pytest.mark.parametrize("mutate, path", [
    (lambda d: d.pop("$id"), "$id"),
    (lambda d: d.update(incidentComponent={"$id": "i"}), "incidentComponent.incidentTypeCommonRegistryText"),
    (lambda d: d["callComponent"][0].update(callStartTimestamp="hier"), "callComponent[0].callStartTimestamp"),
    (lambda d: d.update(locationComponent=[]), "locationComponent"),
    (lambda d: d["locationComponent"][0].update(locationByValue="<presence"), "locationComponent[0].locationByValue"),
    (lambda d: d.update(personComponent={"a": 1}), "personComponent"),
    (lambda d: d["personComponent"][0].update(ncPersonComponent={"name": [{"personSurName": "Roy"}]}),
     "personComponent[0].ncPersonComponent"),
    (lambda d: d.update(notesComponent=[{"$id": "n"}]), "notesComponent[0].notesActionComments"),
])
def test_eido_errors_name_the_json_path(mutate, path):
    doc = copy.deepcopy(json.loads(SAMPLE.read_text()))
    mutate(doc)
    with pytest.raises(EidoError) as err:
        map_eido(doc)
    assert err.value.path == path


def test_long_incident_ids_are_hashed_into_a_call_id():
    assert call_id_of("x" * 100).startswith("eido-") and len(call_id_of("x" * 100)) <= 64
    assert call_id_of("urn:a:b") == "urn:a:b"
