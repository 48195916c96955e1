"""Need to know on triage's read API (dyade.access): role × endpoint × sector, on the real worker."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dyade.contracts.topics import TRIAGE_DECIDED
from dyade.contracts.triage import TriageDecided
from dyade.kafka import publish
from tests.kit import TopicReader
from services.triage.tests.harness import call_event

NOW = datetime.now(timezone.utc).replace(microsecond=0)

PRINCIPALS = {  # name: (role, claims)
    "dispatch": ("dispatch", {}), "officer": ("officer", {}), "calltaker": ("calltaker", {}),
    "dyad-S1": ("dyad", {"dyad_id": "D1", "sector": "S1"}), "dyad-S2": ("dyad", {"dyad_id": "D2", "sector": "S2"}),
    "dyad-without-claims": ("dyad", {}), "supervisor": ("supervisor", {}), "social_worker": ("social_worker", {}),
    "analyst": ("analyst", {}), "admin": ("admin", {}),
}
ALL = {"dispatch", "officer", "supervisor", "social_worker"}  # as before: no sector limit
# endpoint (in sector S1 or S2) → who gets 200; everyone else 403
EXPECTED = {"person-S1": ALL | {"dyad-S1"}, "person-S2": ALL | {"dyad-S2"},
            "decision-S1": ALL | {"dyad-S1"}, "decision-S2": ALL | {"dyad-S2"}}


@pytest.fixture(scope="module")
def world(triage_worker, producer, broker):
    """Two persons, one call each, in S1 and S2; a third with a call in each."""
    tag = f"acc{NOW.timestamp():.0f}"
    calls = {"S1": (f"{tag}-s1", f"p_{tag}a"), "S2": (f"{tag}-s2", f"p_{tag}b")}
    both = f"p_{tag}c"
    events = [call_event(cid, NOW - timedelta(hours=2), person=person, sector=sector,
                         location=f"l_{tag}{sector}") for sector, (cid, person) in calls.items()]
    events += [call_event(f"{tag}-c1", NOW - timedelta(hours=3), person=both, sector="S1"),
               call_event(f"{tag}-c2", NOW - timedelta(hours=1), person=both, sector="S2", address="12 rue Secrète")]
    for e in events:
        publish(producer, e)
    producer.flush()
    wanted = {e.payload.call_id for e in events}
    decisions = TopicReader(broker.bootstrap_servers, TRIAGE_DECIDED)
    try:
        decisions.wait(lambda es: {e.payload.call_id for e in es if isinstance(e, TriageDecided)} >= wanted,
                       timeout=180)
    finally:
        decisions.close()
    return {"person-S1": f"/v1/persons/{calls['S1'][1]}/triage", "person-S2": f"/v1/persons/{calls['S2'][1]}/triage",
            "decision-S1": f"/v1/calls/{calls['S1'][0]}/decision",
            "decision-S2": f"/v1/calls/{calls['S2'][0]}/decision",
            "both": f"/v1/persons/{both}/triage", "tag": tag}


def get(worker, path, headers):
    return httpx.get(worker.url + path, headers=headers, timeout=10)


@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_role_endpoint_sector_matrix(triage_worker, world, token, who, endpoint):
    role, claims = PRINCIPALS[who]
    r = get(triage_worker, world[endpoint], token(role, subject=who, **claims))
    expected = 200 if who in EXPECTED[endpoint] else 403
    assert r.status_code == expected, (who, endpoint, r.text[:300])
    if expected == 403 and role == "dyad":
        detail = r.json()["detail"]
        if who == "dyad-without-claims":
            assert "sans revendication `dyad` (la dyade) ni `sector` (le secteur)" in detail, detail
        else:
            assert "hors de votre secteur" in detail, detail


def test_a_dyad_sees_a_persons_history_with_its_own_sectors_decisions_only(triage_worker, world, token):
    d1 = token("dyad", subject="membre-D1", dyad_id="D1", sector="S1")
    view = get(triage_worker, world["both"], d1).json()
    assert view["recurrence"]["appels_par_fenetre"]["7j"] == 2 and len(view["appels_recents"]) == 2
    assert [d["sector"] for d in view["dernieres_decisions"]] == ["S1"]
    assert "12 rue Secrète" not in str(view)
    full = get(triage_worker, world["both"], token("officer")).json()
    assert [d["sector"] for d in full["dernieres_decisions"]] == ["S2", "S1"]


def test_not_found_stays_404_but_claims_come_first(triage_worker, world, token):
    d1 = token("dyad", subject="membre-D1", dyad_id="D1", sector="S1")
    assert get(triage_worker, f"/v1/calls/{world['tag']}-nope/decision", d1).status_code == 404
    assert get(triage_worker, f"/v1/persons/p_{world['tag']}nope/triage", d1).status_code == 404
    no_sector = token("dyad", subject="x", dyad_id="D1")
    r = get(triage_worker, f"/v1/calls/{world['tag']}-nope/decision", no_sector)
    assert r.status_code == 403 and "`sector` (le secteur)" in r.json()["detail"]
