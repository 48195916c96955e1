"""One invalid call never fails another, and no log line quotes what a call carried.

Calls sent at once are accepted together (group commit: services/intake/adapters/group_commit.py). A call the edge
refuses (bad text: 422) never reaches the group; a call the database refuses fails alone: its group is
accepted again call by call, each in its own SAVEPOINT (Intake.accept_calls). Against the real PostgreSQL,
through the running app."""
from __future__ import annotations

import asyncio
import json
import logging

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from dyade.contracts.inbound import CallSubmission
from dyade.observability import JsonFormatter
from services.intake.adapters import models as m
from services.intake.adapters.acceptance import Outcome
from services.intake.domain.calls import InvalidSubmission
from services.intake.tests.conftest import call_body

# values that must never appear in a log line (they are what the bad calls carry)
LONG_SECTOR = "SECTEUR-INCONNU-" + "Q" * 50          # intake_calls.sector is 40 characters
LONG_NAME = "Bellefeuille-" + "Z" * 120              # intake_identities.last_name is 100 characters


def person(unique: str, i: int) -> dict:
    return {"first_name": "Lucie", "last_name": f"Gagnon{unique}{i}".replace("-", ""), "birth_date": "1975-03-09"}


def bad_bodies(unique: str) -> dict[str, tuple[dict, str]]:
    """Calls with bad text where the 2026 incident found it, and the field the 422 must name."""
    def with_(i, change):
        body = call_body(f"ISO-{unique}-bad{i}", persons=[person(unique, 1000 + i)])
        change(body)
        return body
    return {
        "first_name": (with_(1, lambda b: b["persons"][0].update(first_name="Lu\x00cie")), "persons.0.first_name"),
        "last_name": (with_(2, lambda b: b["persons"][0].update(last_name="Gag\x1bnon")), "persons.0.last_name"),
        "sector": (with_(3, lambda b: b["location"].update(sector="S\x001")), "location.sector"),
        "address": (with_(4, lambda b: b["location"].update(address="12 rue\x00 Principale")), "location.address"),
        "narrative": (with_(5, lambda b: b.update(narrative="propos\x00 suicidaires")), "narrative"),
        "surrogate": (with_(6, lambda b: b.update(narrative="propos \ud800")), "narrative"),
    }


def test_bad_calls_among_200_concurrent_ones_fail_alone(intake, dispatch, unique):
    """The incident: 1 bad call among 200 concurrent ones made 10 to 18 valid calls fail with a 500."""
    valid = [call_body(f"ISO-{unique}-{i}", persons=[person(unique, i % 40)]) for i in range(200)]
    bad = bad_bodies(unique)
    bodies = valid[:100] + [b for b, _ in bad.values()] + valid[100:]

    async def send_all():
        transport = httpx.ASGITransport(app=intake.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=60) as client:
            return await asyncio.gather(*[
                client.post("/v1/calls", content=json.dumps(b).encode(),
                            headers={**dispatch, "Content-Type": "application/json"}) for b in bodies])

    responses = dict(zip([b["call_id"] for b in bodies], asyncio.run(send_all())))
    for body in valid:
        r = responses[body["call_id"]]
        assert r.status_code == 202, f"{body['call_id']}: {r.status_code} {r.text[:200]}"
    for body, field in bad.values():
        r = responses[body["call_id"]]
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    with intake.app.state.intake.sessions() as s:
        stored = s.scalar(select(func.count()).select_from(m.calls).where(m.calls.c.call_id.like(f"ISO-{unique}-%")))
    assert stored == 200


def _bypassing_validation(sub: CallSubmission, **location) -> CallSubmission:
    """A submission the edge would refuse, built without validation (as a bug upstream could): the only way
    left to make the database itself refuse a call."""
    return sub.model_copy(update={"location": sub.location.model_copy(update=location)})


def test_a_call_the_database_refuses_fails_alone_in_its_group(intake, unique, caplog):
    acceptance = intake.app.state.intake
    good = [CallSubmission.model_validate(call_body(f"SP-{unique}-{i}", persons=[person(unique, 200 + i)]))
            for i in range(6)]
    too_long_sector = _bypassing_validation(good[0].model_copy(update={"call_id": f"SP-{unique}-sector"}),
                                            sector=LONG_SECTOR)
    long_name = CallSubmission.model_validate(call_body(f"SP-{unique}-name", persons=[person(unique, 299)]))
    long_name = long_name.model_copy(update={"persons": [long_name.persons[0].model_copy(
        update={"last_name": LONG_NAME})]})
    nul = _bypassing_validation(good[1].model_copy(update={"call_id": f"SP-{unique}-nul"}), sector="S\x00")
    items = [(s, None, "http") for s in good[:2] + [too_long_sector] + good[2:4] + [long_name, nul] + good[4:]]

    with caplog.at_level(logging.INFO):
        results = acceptance.accept_calls(items)  # ONE group: one transaction, as the group writer makes it

    outcomes = dict(zip([s.call_id for s, _, _ in items], results))
    for sub in good:
        assert isinstance(outcomes[sub.call_id], Outcome) and not outcomes[sub.call_id].duplicate, outcomes[sub.call_id]
    # a sector longer than any table keeps is refused by the event itself (dyade.contracts.vocabulary)
    assert isinstance(outcomes[too_long_sector.call_id], InvalidSubmission)
    assert "sector" in outcomes[too_long_sector.call_id].problem
    assert isinstance(outcomes[long_name.call_id], DataError)
    assert isinstance(outcomes[nul.call_id], InvalidSubmission)  # the event itself refuses the NUL (envelope)
    assert "payload.location.sector" in outcomes[nul.call_id].problem
    with acceptance.sessions() as s:
        stored = {r.call_id for r in s.execute(select(m.calls.c.call_id).where(m.calls.c.call_id.like(f"SP-{unique}-%")))}
        names = s.scalar(select(func.count()).select_from(m.identities).where(m.identities.c.last_name == LONG_NAME))
    assert stored == {sub.call_id for sub in good} and names == 0

    # the same calls again: the valid ones are replays, the bad ones still fail alone
    again = acceptance.accept_calls(items)
    assert [isinstance(r, Outcome) and r.duplicate for r in again] == [isinstance(r, Outcome) for r in results]

    # no log line says what the refused calls carried; engines hide the statements' parameters
    assert "hidden due to hide_parameters=True" in str(outcomes[long_name.call_id])
    formatter = JsonFormatter("intake")
    lines = [formatter.format(r) for r in caplog.records]
    assert any("savepoint" in line for line in lines) and any("SQLSTATE 22001" in line for line in lines)
    for line in lines:
        for value in (LONG_SECTOR, LONG_NAME, "Gagnon", "Lucie", "1975-03-09", "Tremblay"):
            assert value not in line, line


def test_a_value_the_database_refuses_is_a_422_without_the_value_in_the_logs(intake, dispatch, unique, monkeypatch,
                                                                              caplog):
    """Through HTTP and the group writer: a DataError is the caller's data, so 4xx; neither the answer nor
    the log quotes it."""
    writer = intake.app.state.writer
    submit = writer.submit

    async def corrupting(item):  # what a bug between the edge and the database would do
        sub, table, channel = item
        if sub.call_id.endswith("-bad"):
            sub = sub.model_copy(update={"persons": [sub.persons[0].model_copy(update={"last_name": LONG_NAME})]})
        return await submit((sub, table, channel))

    monkeypatch.setattr(writer, "submit", corrupting)
    with caplog.at_level(logging.INFO):
        bad = intake.post("/v1/calls", json=call_body(f"DE-{unique}-bad"), headers=dispatch)
        ok = intake.post("/v1/calls", json=call_body(f"DE-{unique}-ok"), headers=dispatch)
    assert ok.status_code == 202, ok.text
    assert bad.status_code == 422 and "refusée par la base de données" in bad.json()["detail"], bad.text
    assert LONG_NAME not in bad.text
    formatter = JsonFormatter("intake")
    lines = [formatter.format(r) for r in caplog.records]
    assert any("SQLSTATE 22001" in line for line in lines), lines
    assert not [line for line in lines if LONG_NAME in line or "Tremblay" in line or "1980-05-17" in line]
