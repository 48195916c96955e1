"""EIDO documents of simulated calls validate against the NENA standard's own schema (openapi.yaml and
its NIEMComponents/), the validator rejects what the standard forbids, and intake reads them back as
the same call."""
from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from dyade.simulation.eido import STANDARD_DIR, eido_errors
from services.intake.domain import eido


def test_the_standards_own_sample_is_valid():
    sample = json.loads((STANDARD_DIR / "sample-call-transfer.json").read_text(encoding="utf-8"))
    assert eido_errors(sample) == []


def test_every_eido_of_the_stream_is_valid(terrebonne_run):
    docs = terrebonne_run.eido
    assert 0.03 < len(docs) / len(terrebonne_run.calls) < 0.07  # a 5 % share
    assert any(d.get("personComponent") for d in docs) and any(d.get("cautionComponent") for d in docs)
    for doc in docs:
        assert eido_errors(doc) == [], doc["$id"]


def test_the_eido_says_what_the_call_says(terrebonne_run):
    calls = {c["call_id"]: c for c in terrebonne_run.calls}
    for doc in terrebonne_run.eido[:200]:
        call = calls[doc["incidentComponent"]["internalIncidentId"]]
        assert doc["incidentComponent"]["incidentTypeInternalCode"] == call["nature_code"]
        assert datetime.fromisoformat(doc["callComponent"][0]["callStartTimestamp"]) == \
            datetime.fromisoformat(call["received_at"])
        names = [(p["ncPersonComponent"]["name"][0]["personGivenName"][0]["value"],
                  p["ncPersonComponent"]["name"][0]["personSurName"][0]["value"]) for p in doc.get("personComponent", [])]
        assert names == [(p["first_name"], p["last_name"]) for p in call["persons"]]
        assert doc["incidentComponent"].get("beatOrDispatchGroupText") == call["location"]["sector"]


@pytest.mark.parametrize("break_it, where", [
    (lambda d: d.pop("agencyComponent"), "agencyComponent"),
    (lambda d: d["callComponent"][0].update(direction="sideways"), "direction"),
    (lambda d: d["callComponent"][0].update(callStartTimestamp="hier soir"), "date-time"),
    (lambda d: d.update(eidoVersion="2.0"), "2.0"),
    (lambda d: d["personComponent"][0]["ncPersonComponent"].update(birthDate={"date": [{"value": "1990-01-01"}]}),
     "array"),
    (lambda d: d["personComponent"][0].pop("personIncidentRoleRegistryText"), "personIncidentRoleRegistryText"),
    (lambda d: d["locationComponent"][0].pop("$id"), "$id"),
])
def test_the_validator_rejects_what_the_standard_forbids(terrebonne_run, break_it, where):
    doc = copy.deepcopy(next(d for d in terrebonne_run.eido if d.get("personComponent")))
    break_it(doc)
    errors = eido_errors(doc)
    assert errors and any(where in e for e in errors), errors


def test_intake_reads_the_eido_back_as_the_same_call(terrebonne_run):
    calls = {c["call_id"]: c for c in terrebonne_run.calls}
    docs = terrebonne_run.eido[:150]
    mapped = [eido.map_eido(doc).submission for doc in docs]
    for doc, sub in zip(docs, mapped):
        call = calls[doc["incidentComponent"]["internalIncidentId"]]
        assert sub["nature_code"] == call["nature_code"]
        assert datetime.fromisoformat(sub["received_at"]) == datetime.fromisoformat(call["received_at"])
        assert [(p.get("first_name"), p.get("last_name"), p.get("birth_date")) for p in sub["persons"]] == \
            [(p["first_name"], p["last_name"], p.get("birth_date")) for p in call["persons"]]
        assert sub["location"]["lat"] == call["location"]["lat"]
