"""Need to know on the police-view read path (services/infosocial/entrypoints/scope.py, dyade.access): a dyad reads the
frame of a person of its sector only, as triage says with the dyad's own token; other roles as before."""
from __future__ import annotations

import pytest

from infosocial_helpers import create_active
from sector_triage import sector_triage  # noqa: F401 (fixture)

D1 = {"dyad_id": "D1", "sector": "S1"}
D2 = {"dyad_id": "D2", "sector": "S2"}


def paths(person: str, fid: str) -> list[str]:
    return [f"/v1/persons/{person}/frame", f"/v1/frames/{fid}"]


def test_a_dyad_reads_the_frame_of_a_person_of_its_sector_only(api, sw, person, token, sector_triage):
    fid = create_active(api, sw, person)
    sector_triage.persons[person] = ["S2", "S1"]
    for path in paths(person, fid):
        r = api.get(path, headers=token("dyad", subject="membre-D1", **D1))
        assert r.status_code == 200 and r.json()["view"] == "police", r.text
    sector_triage.persons[person] = ["S2"]
    for path in paths(person, fid):
        r = api.get(path, headers=token("dyad", subject="membre-D1", **D1))
        assert r.status_code == 403 and "hors de votre secteur" in r.json()["detail"], r.text
        assert api.get(path, headers=token("dyad", subject="membre-D2", **D2)).status_code == 200
    assert ("membre-D1", person) in sector_triage.reads  # asked with the reader's own token
    rows = api.get("/v1/audit/reads", params={"person_key": person}, headers=token("admin", subject="adm")).json()
    assert sorted(r["reader"] for r in rows) == ["membre-D1", "membre-D1", "membre-D2", "membre-D2"]  # no refusal


def test_a_person_triage_never_saw_is_not_a_dyads(api, sw, person, token, sector_triage):
    create_active(api, sw, person)
    r = api.get(f"/v1/persons/{person}/frame", headers=token("dyad", subject="membre-D1", **D1))
    assert r.status_code == 403 and "hors de votre secteur" in r.json()["detail"]


@pytest.mark.parametrize("claims, named", [({}, "`dyad` (la dyade) ni `sector` (le secteur)"),
                                           ({"dyad_id": "D1"}, "`sector` (le secteur)"),
                                           ({"sector": "S1"}, "`dyad` (la dyade)")])
def test_a_dyad_token_without_its_claims_is_refused(api, sw, person, token, sector_triage, claims, named):
    fid = create_active(api, sw, person)
    sector_triage.persons[person] = ["S1"]
    for path in paths(person, fid):
        r = api.get(path, headers=token("dyad", subject="x", **claims))
        assert r.status_code == 403 and named in r.json()["detail"], r.text


def test_other_roles_do_not_ask_triage_and_the_supervisor_sees_no_frame(api, sw, person, token, sector_triage):
    fid = create_active(api, sw, person)
    for role in ("officer", "dispatch", "social_worker", "analyst"):
        assert api.get(f"/v1/persons/{person}/frame", headers=token(role, subject=f"{role}-s")).status_code == 200
    assert not [r for r in sector_triage.reads if r[1] == person]
    for path in paths(person, fid):
        assert api.get(path, headers=token("supervisor", subject="sup")).status_code == 403


def test_triage_not_answering_refuses_the_dyad(api, sw, person, token, infosocial):
    from services.infosocial.adapters.triage_reads import TriageReads
    create_active(api, sw, person)
    state = infosocial[1].state
    original, state.triage = state.triage, TriageReads("http://127.0.0.1:9")  # nothing listens there
    try:
        r = api.get(f"/v1/persons/{person}/frame", headers=token("dyad", subject="membre-D1", **D1))
    finally:
        state.triage.close()
        state.triage = original
    assert r.status_code == 503 and "le triage ne répond pas" in r.json()["detail"]
    assert api.get(f"/v1/persons/{person}/frame", headers=token("officer", subject="o")).status_code == 200
