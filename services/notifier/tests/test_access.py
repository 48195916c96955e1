"""Need to know in the notifier (dyade.access): role × read endpoint × sector, and no health field of a frame
reaches the supervisor in the field app (Info-social shows it no frame)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from dyade.kafka import wait_until
from services.notifier.adapters.models import FrameReadRow, FrameRow
from services.notifier.tests.conftest import ALWAYS, alerted, frame, put_dyad, send

# what conftest.frame() puts in a police view: none of it may reach the supervisor
HEALTH = ("450-555-0101", "Sœur (proche)", "Parler calmement, proposer un café", "Uniformes multiples à la porte",
          "Fugue", '"police_view"', '"contacts"', '"consent"', '"legal_basis"', "niveau_tolerance")

ROLES = ["dispatch", "officer", "calltaker", "dyad-S1", "dyad-S2", "dyad-without-claims", "supervisor",
         "social_worker", "analyst", "admin"]
FIELD_USERS = {"dyad-S1", "dyad-S2", "supervisor"}
# endpoint → who gets 200; everyone else 403
EXPECTED = {
    "alerts": FIELD_USERS,                           # a dyad: its own alerts only (checked below)
    "followups-today": FIELD_USERS,
    "alert-S1": {"dyad-S1", "supervisor"},           # routed to D1, in S1
    "alert-S2": {"dyad-S2", "supervisor"},
    "alert-S3-sent-to-D1": {"dyad-S1", "supervisor"},  # S3 has no dyad: routed to its neighbour's D1
}


@pytest.fixture(scope="module")
def world(notifier, http, supervisor, producer):
    u = uuid.uuid4().hex[:8]
    s1, s2, s3 = f"S1{u}", f"S2{u}", f"S3{u}"
    put_dyad(http, supervisor, f"D1{u}", s1, shifts=ALWAYS)
    put_dyad(http, supervisor, f"D2{u}", s2, shifts=ALWAYS)
    assert http.put(f"/v1/sectors/{s3}", json={"neighbours": [s1]}, headers=supervisor).status_code == 200
    persons = {s: f"p_{s.lower()}" for s in (s1, s2, s3)}
    send(producer, *(frame(p) for p in persons.values()))
    wait_until(lambda: all(_frame(notifier, p) for p in persons.values()), timeout=60)
    alerts = {}
    for name, sector in (("alert-S1", s1), ("alert-S2", s2), ("alert-S3-sent-to-D1", s3)):
        call = f"{name}-{u}"
        alerts[name] = alerted(notifier, producer, call, sector=sector, at=notifier.clock(), persons=[persons[sector]])
    assert (alerts["alert-S1"].dyad_id, alerts["alert-S2"].dyad_id, alerts["alert-S3-sent-to-D1"].dyad_id) == (
        f"D1{u}", f"D2{u}", f"D1{u}")
    paths = {"alerts": "/v1/alerts", "followups-today": "/v1/followups/today",
             **{name: f"/v1/alerts/{a.alert_id}" for name, a in alerts.items()}}
    claims = {"dyad-S1": {"dyad_id": f"D1{u}", "sector": s1}, "dyad-S2": {"dyad_id": f"D2{u}", "sector": s2}}
    return {"u": u, "paths": paths, "alerts": alerts, "claims": claims, "sectors": (s1, s2, s3)}


def _frame(notifier, person):
    with notifier.sessions() as s:
        return s.get(FrameRow, person)


def headers_of(token, world, who):
    role = "dyad" if who.startswith("dyad") else who
    return token(role, subject=f"{who}-{world['u']}", **world["claims"].get(who, {}))


@pytest.mark.parametrize("endpoint", list(EXPECTED))
@pytest.mark.parametrize("who", ROLES)
def test_role_endpoint_sector_matrix(http, world, token, who, endpoint):
    r = http.get(world["paths"][endpoint], headers=headers_of(token, world, who))
    expected = 200 if who in EXPECTED[endpoint] else 403
    assert r.status_code == expected, (who, endpoint, r.text[:300])
    if expected == 403 and who.startswith("dyad"):
        detail = r.json()["detail"]
        assert ("sans revendication `dyad` (la dyade) ni `sector` (le secteur)" in detail
                if who == "dyad-without-claims" else "hors de votre secteur" in detail), detail
    if expected == 200 and who == "supervisor":
        assert not [h for h in HEALTH if h in r.text], (endpoint, r.text[:500])
    if expected == 200 and who.startswith("dyad") and endpoint.startswith("alert-"):
        [view] = r.json()["frames"]
        assert view["police_view"]["contacts"][0]["phone"] == "450-555-0101" and not view["withheld"]


def test_a_dyad_lists_only_its_own_alerts(http, world, token):
    ids = {name: a.alert_id for name, a in world["alerts"].items()}
    d1 = {a["alert_id"] for a in http.get("/v1/alerts", headers=headers_of(token, world, "dyad-S1")).json()["alerts"]}
    d2 = {a["alert_id"] for a in http.get("/v1/alerts", headers=headers_of(token, world, "dyad-S2")).json()["alerts"]}
    assert d1 == {ids["alert-S1"], ids["alert-S3-sent-to-D1"]} and d2 == {ids["alert-S2"]}


def test_another_dyad_of_the_sector_reads_the_detail_but_not_an_other_sectors(http, world, token):
    s1, s2, s3 = world["sectors"]
    colleague = token("dyad", subject=f"colleague-{world['u']}", dyad_id=f"D9{world['u']}", sector=s1)
    assert http.get(world["paths"]["alert-S1"], headers=colleague).status_code == 200          # its sector
    assert http.get(world["paths"]["alert-S3-sent-to-D1"], headers=colleague).status_code == 403  # D1's, in S3
    no_sector = token("dyad", subject="x", dyad_id=f"D1{world['u']}")
    r = http.get(world["paths"]["alert-S1"], headers=no_sector)
    assert r.status_code == 403 and "`sector` (le secteur)" in r.json()["detail"]


def test_the_supervisor_sees_the_frame_withheld_and_no_read_is_recorded(notifier, http, world, token, supervisor):
    detail = http.get(world["paths"]["alert-S2"], headers=supervisor).json()
    [view] = detail["frames"]
    assert view["withheld"] and view["view"] is None and "Info-social" in view["note"]
    assert set(view) == {"person_key", "stale", "withheld", "view", "note"}
    assert http.get(world["paths"]["alert-S2"], headers=headers_of(token, world, "dyad-S2")).status_code == 200
    person = world["alerts"]["alert-S2"].person_keys[0]
    with notifier.sessions() as s:
        reads = s.execute(select(FrameReadRow.role, func.count()).where(FrameReadRow.person_key == person)
                          .group_by(FrameReadRow.role)).all()
    assert "supervisor" not in dict(reads) and dict(reads).get("dyad", 0) >= 1
    page = http.get("/", headers=supervisor)
    assert page.status_code == 200 and not [h for h in HEALTH if h in page.text]
