"""Pure logic: names, keys, fuzzy matching, addresses, code tables, EIDO mapping (no I/O)."""
from __future__ import annotations

import copy
import json
from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

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


# --- one location key whatever the path and the spelling ---------------------------------------------

SAINT_LOUIS = [
    "1200 bloc Saint-Louis rue",                  # EIDO (PIDF-LO RD then STS), at block level
    "1200 rue Saint-Louis",                       # HTTP
    "1200, RUE ST-LOUIS",                         # a CAD export
    "1234 rue Saint-Louis",
    "1299 Rue St Louis",
    "1234 rue Saint-Louis, Terrebonne, QC",       # EIDO with its city (A3, A1)
    "1234 rue Saint-Louis, Terrebonne, QC J6W 1A1",
    "dépanneur, 1250, rue Saint-Louis",           # a public place before the civic number
    "1234 Saint-Louis Street",
    "1234 St-Louis St.",
    "1234 rue st.-louis app. 3",
    "1234 rue Saint-Louis #3",
    "1234-1236 rue Saint-Louis",
    "1234A rue Saint-Louis",
    "  1234   RUE   SAINT - LOUIS ",
    "1200 BLOCK OF SAINT-LOUIS ST",
]


@pytest.mark.parametrize("address", SAINT_LOUIS)
def test_spellings_and_orders_of_one_block_share_its_key(address):
    assert normalise_address(address) == "1200 RUE ST LOUIS"
    assert location_key("k", address) == location_key("k", "1200 rue Saint-Louis")


@pytest.mark.parametrize("a, b", [
    ("1234 boulevard des Seigneurs", "1250 Seigneurs Blvd"),
    ("1234 boul. des Seigneurs", "1234 BD DES SEIGNEURS"),
    ("1234 avenue du Parc", "1234 Parc Ave"),
    ("1234 av. du Parc", "1234 AVENUE DU PARC"),
    ("1234 chemin Gascon", "1234 Gascon Road"),
    ("1234 ch. Gascon", "1234 Gascon Rd"),
    ("1234 montée Masson", "1234 Masson montée"),
    ("1234 rue Sainte-Marie", "1234 Ste-Marie Street"),
    ("1234 rue Sherbrooke Est", "1234 Sherbrooke Street East"),
    ("1234 rue Notre-Dame Ouest", "1234 W Notre-Dame St"),
    ("1234 rue de l'Église", "1234 EGLISE STREET"),
    ("1234 1re Avenue", "1234 1st Avenue"),
    ("1234 croissant des Érables", "1234 Erables Crescent"),
    ("rue Saint-Louis / boulevard des Seigneurs", "Seigneurs Blvd & St-Louis Street, Terrebonne"),
    ("coin Saint-Louis et Principale", "PRINCIPALE / ST-LOUIS"),
    ("SHATTUCK AVE/CHANNING WAY", "channing way / shattuck ave"),
    ("2100 BLOCK SHATTUCK AVE", "2150 Shattuck Avenue"),
])
def test_street_types_in_french_and_english_before_or_after_the_name(a, b):
    assert location_key("k", a) == location_key("k", b)


@pytest.mark.parametrize("a, b", [
    ("1234 rue Saint-Louis", "1334 rue Saint-Louis"),     # another block
    ("1234 rue Saint-Louis", "1234 avenue Saint-Louis"),  # another street of the same name
    ("1234 rue Saint-Louis", "1234 rue Sainte-Louise"),
    ("1234 rue Sherbrooke Est", "1234 rue Sherbrooke Ouest"),
    ("1234 rue Saint-Louis", "rue Saint-Louis / rue Principale"),
    ("1234 Dr-Penfield avenue", "1234 Penfield Drive"),   # "Dr" before a name is not a drive
])
def test_different_places_keep_different_keys(a, b):
    assert location_key("k", a) != location_key("k", b)


STREETS = st.sampled_from([("Saint-Louis", "ST LOUIS"), ("Sainte-Catherine", "STE CATHERINE"),
                           ("des Érables", "ERABLES"), ("de la Fabrique", "FABRIQUE"), ("Masson", "MASSON")])
GENERICS = st.sampled_from([(("rue", "Rue", "RUE"), ("Street", "St", "St.", "rue")),
                            (("avenue", "av.", "Av"), ("Avenue", "Ave", "av")),
                            (("boulevard", "boul.", "BOUL"), ("Blvd", "Boulevard", "boul."))])


@settings(max_examples=200, deadline=None)
@given(STREETS, GENERICS, st.integers(1, 99), st.integers(0, 99), st.booleans(), st.integers(0, 5), st.data())
def test_any_spelling_of_a_civic_address_gives_the_key_of_its_block(street, generic, hundreds, unit, before,
                                                                    variant, data):
    name, canonical = street
    name = {0: name, 1: name.upper(), 2: name.lower(), 3: name.replace("-", " "),
            4: name.replace("Saint-", "St-").replace("Sainte-", "Ste-"), 5: name.replace("É", "E")}[variant]
    leading, trailing = generic
    number = f"{hundreds * 100 + unit}"
    street_text = f"{data.draw(st.sampled_from(leading))} {name}" if before else \
        f"{name} {data.draw(st.sampled_from(trailing))}"
    suffix = data.draw(st.sampled_from(["", ", Terrebonne", ", Terrebonne, QC", " app. 4"]))
    sep = data.draw(st.sampled_from([" ", ", "]))
    address = f"{number}{sep}{street_text}{suffix}"
    code = {"rue": "RUE", "avenue": "AV", "boulevard": "BOUL"}[leading[0]]
    assert normalise_address(address) == f"{hundreds * 100} {code} {canonical}"


def eido_at(civic: str) -> dict:
    doc = json.loads(SAMPLE.read_text())
    comp = doc["locationComponent"][0]
    start, end = comp["locationByValue"].index("<country>"), comp["locationByValue"].index("</civicAddress>")
    comp["locationByValue"] = comp["locationByValue"][:start] + civic + comp["locationByValue"][end:]
    return doc


@pytest.mark.parametrize("civic", [
    "<country>CA</country><A1>QC</A1><A3>Terrebonne</A3><RD>Saint-Louis</RD><STS>rue</STS><HNO>1234</HNO>",
    "<country>CA</country><A1>QC</A1><A3>Terrebonne</A3><STP>rue</STP><RD>Saint-Louis</RD><HNO>1234</HNO>",
    "<country>CA</country><A3>Terrebonne</A3><A6>rue Saint-Louis</A6><HNO>1250</HNO>",
])
def test_an_eido_address_gets_the_key_of_the_same_address_sent_over_http(civic):
    address = map_eido(eido_at(civic)).submission["location"]["address"]
    assert location_key("k", address) == location_key("k", "1200 rue Saint-Louis")
    assert block_level(address).startswith("1200 bloc ")


def test_block_level_hides_the_civic_number_after_a_place_name_too():
    assert block_level("dépanneur, 1234, rue Saint-Louis") == "dépanneur, 1200 bloc rue Saint-Louis"
    assert block_level("1234, rue Saint-Louis") == "1200 bloc rue Saint-Louis"
    assert block_level("geo 45.123,-73.456") == "geo 45.123,-73.456"
    assert normalise_address("geo 45.123,-73.456") == "GEO 45.123,-73.456"


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
