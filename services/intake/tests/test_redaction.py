"""Narratives lose who anyone is before they become an event: the persons' names (fuzzy, accents, case,
compound names), birth dates, phone numbers, RAMQ numbers, e-mails, civic numbers; and keep everything
else (ordinary words, street names, recent dates, ages)."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from services.intake.domain.redaction import BIRTH_DATE, EMAIL, IDENTIFIER, NAM, NAME, PHONE, redact

TODAY = date(2026, 11, 24)


def person(first=None, last=None, birth=None, cad=None):
    return SimpleNamespace(first_name=first, last_name=last, birth_date=birth, cad_person_id=cad)


JF = person("Jean-François", "Tremblay", date(1984, 3, 12), "CAD-778812")
MELODIE = person("Mélodie", "Côté", date(1991, 3, 8))


def r(text, *persons):
    return redact(text, persons or (JF,), today=TODAY)


# --- names of the persons on the call --------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Tremblay refuse d'ouvrir.", "TREMBLAY refuse d'ouvrir.", "tremblay refuse d'ouvrir.",
    "Trembley refuse d'ouvrir.", "Tremblai refuse d'ouvrir.", "Tremlay refuse d'ouvrir.",
    "Tremblay-Gagnon refuse d'ouvrir.", "Gagnon-Tremblay refuse d'ouvrir.", "TREMBLAY-GAGNON refuse d'ouvrir.",
])
def test_the_last_name_in_every_spelling(text):
    assert r(text) == "[nom] refuse d'ouvrir."


@pytest.mark.parametrize("text,expected", [
    ("Son fils Jean-François Tremblay crie.", "Son fils [nom] crie."),
    ("Son fils Jean-Francois TREMBLAY crie.", "Son fils [nom] crie."),
    ("Son fils JEAN-FRANCOIS crie.", "Son fils [nom] crie."),
    ("Son fils Jean François crie.", "Son fils [nom] crie."),
    ("Tremblay, Jean-François: agité.", "[nom], [nom]: agité."),
    ("Il dit que François est parti.", "Il dit que [nom] est parti."),
    ("Elle croit qu'Éric ment.", "Elle croit qu'[nom] ment."),
])
def test_first_and_full_names(text, expected):
    assert r(text, JF, person("Éric", "Roy")) == expected


def test_accented_names_match_unaccented_writing_and_the_reverse():
    assert r("COTE MELODIE appelle.", MELODIE) == "[nom] appelle."
    assert r("Melodie Cote appelle.", MELODIE) == "[nom] appelle."
    assert r("mélodie côté appelle.", MELODIE) == "[nom] appelle."
    assert r("melodie appelle.", MELODIE) == "[nom] appelle."


def test_names_with_particles_and_apostrophes():
    p = person("Marc", "D'Amours")
    assert r("Marc D'Amours est calme.", p) == "[nom] est calme."
    q = person("Anne", "de la Fontaine")
    assert r("Anne de la Fontaine appelle.", q) == "[nom] de la [nom] appelle."
    assert "de la" in r("Anne de la Fontaine appelle.", q)  # the particles alone identify nobody
    assert r("Le Van Minh appelle.", person("Minh", "Le")) == "[nom] Van [nom] appelle."


def test_a_name_after_a_title_even_when_not_on_the_call():
    assert r("La voisine Mme Gagnon a appelé.") == "La voisine Mme [nom] a appelé."
    assert r("Selon monsieur Jean Roy, il dort dehors.") == "Selon monsieur [nom], il dort dehors."
    assert r("M. BOUCHARD EST SUR PLACE.") == "M. [nom] EST SUR PLACE."
    assert r("Dre Lapointe le suit.") == "Dre [nom] le suit."
    assert r("Madame est inquiète.") == "Madame est inquiète."


# --- birth dates -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["1984-03-12", "12/03/1984", "12-03-1984", "12.03.1984", "12 mars 1984",
                                     "12 MARS 1984", "12 Mars 1984", "03/12/1984", "1984/03/12", "12/03/84",
                                     "March 12, 1984", "12 mar. 1984"])
def test_the_persons_birth_date_in_common_formats(written):
    assert r(f"Sujet connu, {written}, agité.") == f"Sujet connu, {BIRTH_DATE}, agité."


@pytest.mark.parametrize("text,expected", [
    ("Sa fille, née le 2020-05-01, est avec lui.", f"Sa fille, née le {BIRTH_DATE}, est avec lui."),
    ("DDN: 3 juin 2015.", f"DDN: {BIRTH_DATE}."),
    ("Date de naissance : 1er janvier 2019", f"Date de naissance : {BIRTH_DATE}"),
    ("Né en 1962, vit seul.", f"Né en {BIRTH_DATE}, vit seul."),
    ("Un ami (17/05/1975) l'héberge.", f"Un ami ({BIRTH_DATE}) l'héberge."),
])
def test_other_birth_dates_by_their_cue_or_their_age(text, expected):
    assert r(text) == expected


def test_recent_dates_and_ages_stay():
    text = "Troisième appel depuis le 3 mars 2026 (dernier le 2026-11-20); 42 ans, 2 enfants."
    assert r(text) == text


# --- phones, NAM, e-mails, identifiers -------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["450-555-0101", "(514) 555-1234", "514.555.1234", "5145551234",
                                   "+1 514 555 1234", "1-800-555-1234", "819 555 0142", "555-1234"])
def test_phone_numbers(phone):
    assert r(f"Rappeler au {phone} ce soir.") == f"Rappeler au {PHONE} ce soir."


@pytest.mark.parametrize("nam", ["TREM 8403 1212", "TREM84031212", "trem 8403 1212", "GAGM 9153 0811",
                                 "TREM-8403-1212"])
def test_ramq_health_insurance_numbers(nam):
    assert r(f"NAM {nam} vérifié.") == f"NAM {NAM} vérifié."


def test_emails_and_cad_ids():
    assert r("Écrire à jf.tremblay+crise@example.qc.ca ou J_T@hotmail.com.") == f"Écrire à {EMAIL} ou {EMAIL}."
    assert r("Fiche CAD-778812 au RAO.") == f"Fiche {IDENTIFIER} au RAO."


# --- civic numbers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("Il vit au 1234 rue Principale.", "Il vit au 1200 bloc rue Principale."),
    ("Il vit au 1234, rue Principale.", "Il vit au 1200 bloc rue Principale."),
    ("Il vit au 5-1234 boul. Saint-Laurent.", "Il vit au 1200 bloc boul. Saint-Laurent."),
    ("Il vit au 1234A avenue du Parc.", "Il vit au 1200 bloc avenue du Parc."),
    ("Parti vers le 88 chemin de la Côte-des-Neiges.", "Parti vers le 0 bloc chemin de la Côte-des-Neiges."),
    ("AU 450 RUE ST-GEORGES", "AU 400 bloc RUE ST-GEORGES"),
    ("au 2150 place Ville-Marie", "au 2100 bloc place Ville-Marie"),
    ("au 77 route 132", "au 0 bloc route 132"),
])
def test_civic_numbers_become_the_block(text, expected):
    assert r(text) == expected


# --- what must stay --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Mère inquiète: son fils tient des propos suicidaires.",
    "Homme tremblant, agité, à côté de l'église; véhicule blanc stationné rue Saint-Jean.",
    "Son mari est parti, elle est mariée depuis 20 ans; la côte est glissante.",
    "Il reste 3 places au refuge; 2 rues plus loin; 3 cours manqués; prendre la route.",
    "Appel répété (4e fois en 30 jours), 911 rappelé 2 fois, code 10-10.",
    "Intersection Sherbrooke / Saint-Denis, bloc 1200, secteur S1.",
    "Urgence-santé demandée à 22 h 30; montant de 1234 $ volé.",
    "Le patient prend 50 mg de quétiapine; dans 2024 2025 il a été hospitalisé.",
    "Trembler, tremblement, tremblant: il tremble.",
    "Il parle de Jean-Talon et de Saint-François.",
])
def test_ordinary_words_streets_and_numbers_stay(text):
    assert r(text, JF, person("Marie", "Côté")) == text


def test_street_named_like_the_person_keeps_a_place_prefix():
    assert r("Rue Saint-Pierre, près du parc.", person("Pierre", "Gagnon")) == "Rue Saint-Pierre, près du parc."
    assert r("Saint-Pierre est agitée.", person("Lise", "Saint-Pierre")) == "[nom] est agitée."


def test_common_words_that_are_names_only_when_written_as_names():
    blanc = person("Luc", "Blanc")
    assert r("Un véhicule blanc; Blanc refuse de sortir.", blanc) == "Un véhicule blanc; [nom] refuse de sortir."
    assert r("Marie appelle, il se marie demain.", person("Marie", "Roy")) == "[nom] appelle, il se marie demain."


def test_short_names_are_matched_exactly():
    luc = person("Luc", "Roy")
    assert r("Luc Roy et un royaume; lucide.", luc) == "[nom] et un royaume; lucide."
    assert r("Morin appelle; un marin aussi.", person("Paul", "Morin")) == "[nom] appelle; un marin aussi."


# --- the whole -------------------------------------------------------------------------------------------

def test_a_call_narrative_with_everything():
    text = ("Mère de Jean-François TREMBLAY (DDN 1984-03-12, NAM TREM 8403 1212) appelle du 450-555-0101: "
            "son fils est au 1234 rue Principale, écrit à jf.tremblay@example.com qu'il veut mourir.")
    out = r(text)
    assert out == ("Mère de [nom] (DDN [date de naissance], NAM [NAM]) appelle du [téléphone]: "
                   "son fils est au 1200 bloc rue Principale, écrit à [courriel] qu'il veut mourir.")
    for leaked in ("Tremblay", "TREMBLAY", "1984", "8403", "0101", "1234", "example"):
        assert leaked not in out


def test_nothing_to_redact():
    assert redact(None) is None and redact("") == ""
    assert redact("Rien de particulier.") == "Rien de particulier."
    assert NAME == "[nom]"
