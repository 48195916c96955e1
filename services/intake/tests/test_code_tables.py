"""Onboarding a city's dispatch codes at run time: `PUT /v1/code-tables/{name}` (admin) stores a versioned,
audited table that intake uses at once — no file in INTAKE_MAPPINGS_DIR, no restart —, administrative codes
listed under `skip` are never accepted as calls, and `dyade replay --mapping` loads the mapping's table
before replaying, with its progress bar showing rate and time left."""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from rich.progress import TimeRemainingColumn

from dyade.db import make_engine, make_sessionmaker
from services.intake.adapters.code_tables import CodeTables, CodeTableStore, MappingError, load_table
from services.intake.domain.codes import CodeTable, SkippedCode, UnknownCode
from services.intake.entrypoints.replay.client import ReplayError, replay
from services.intake.entrypoints.replay.progress import RateColumn, replay_progress
from services.intake.entrypoints.replay.reader import SkippedRow, load_mapping, read_export
from services.intake.tests.conftest import call_body


# --- the table itself (no I/O) ----------------------------------------------------------------------------
def test_skipped_codes_are_neither_a_category_nor_unknown():
    table = CodeTable.build("v", {"10-EMP": "etat_mental_perturbe"}, "autre", skip=["t", " 10-retour "])
    assert table.category_of("10-emp").value == "etat_mental_perturbe"
    assert table.category_of("VOL").value == "autre"  # unknown → the fallback
    with pytest.raises(SkippedCode, match="écarté") as exc:
        table.category_of("10-RETOUR")  # skipped even though unknown codes fall back to `autre`
    assert isinstance(exc.value, UnknownCode) and table.skips("T")
    again = CodeTable.from_content("v", table.as_content())
    assert again == table


def test_a_code_both_classified_and_skipped_is_refused(tmp_path):
    with pytest.raises(ValueError, match="à la fois"):
        CodeTable.build("v", {"T": "autre"}, skip=["T"])
    f = tmp_path / "m.yaml"
    f.write_text("name: v\ncodes: {A: autre}\nskip: T\n")
    with pytest.raises(MappingError, match="liste"):
        load_table(f)


# --- the API ------------------------------------------------------------------------------------------------
def table_body(**over) -> dict:
    body = {"description": "Ville-Test, RAO", "source_system": "ville-test-rao", "unknown_code": "reject",
            "codes": {"10-EMP": "etat_mental_perturbe", "10-SUI": "suicidaire", "10-VOL": "autre"},
            "skip": ["10-RETOUR", "10-INTERP"], "labels": {"10-EMP": "État mental perturbé"},
            "reason": "mise en service de Ville-Test"}
    body.update(over)
    return body


def test_only_an_admin_loads_a_table(intake, token, unique):
    for role in ("dispatch", "supervisor", "analyst", "social_worker"):
        r = intake.put(f"/v1/code-tables/vt-{unique}", json=table_body(), headers=token(role))
        assert r.status_code == 403, (role, r.text)
    assert intake.put(f"/v1/code-tables/vt-{unique}", json=table_body()).status_code == 401


def test_a_loaded_table_is_in_use_at_once_versioned_and_audited(intake, token, dispatch, unique):
    name, admin = f"vt-{unique}", token("admin", subject="admin-ville-test")
    r = intake.put(f"/v1/code-tables/{name}", json=table_body(), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["created"] and r.json()["skip"] == 2

    # no restart: a call with the new city's code is accepted under its category, a skipped code is refused
    call = call_body(f"VT-{unique}-1", nature_code="10-EMP")
    r = intake.post(f"/v1/calls?code_table={name}", json=call, headers=dispatch)
    assert r.status_code == 202 and r.json()["category"] == "etat_mental_perturbe", r.text
    r = intake.post(f"/v1/calls?code_table={name}", json=call_body(f"VT-{unique}-2", nature_code="10-RETOUR"),
                    headers=dispatch)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "nature_code", r.text
    assert "écarté" in r.json()["detail"]
    batch = intake.post("/v1/calls:batch", headers=dispatch, json={"code_table": name, "calls": [
        call_body(f"VT-{unique}-3", nature_code="10-SUI"), call_body(f"VT-{unique}-4", nature_code="10-INTERP")]})
    assert [x["status"] for x in batch.json()["results"]] == ["accepted", "rejected"]

    # the same content again: no new version (but the request is audited); a change: version 2
    again = intake.put(f"/v1/code-tables/{name}", json=table_body(reason="nouvel essai"), headers=admin)
    assert again.status_code == 200 and again.json()["version"] == 1 and not again.json()["created"]
    changed = intake.put(f"/v1/code-tables/{name}", headers=token("admin", subject="admin-2"),
                         json=table_body(codes={**table_body()["codes"], "10-DET": "detresse"}, reason="ajout 10-DET"))
    assert changed.status_code == 201 and changed.json()["version"] == 2
    r = intake.post(f"/v1/calls?code_table={name}", json=call_body(f"VT-{unique}-5", nature_code="10-DET"),
                    headers=dispatch)
    assert r.status_code == 202 and r.json()["category"] == "detresse", r.text

    listed = intake.get("/v1/code-tables", headers=dispatch).json()["tables"]
    assert listed[name]["codes"]["10-DET"] == "detresse"
    got = intake.get(f"/v1/code-tables/{name}", headers=dispatch).json()
    assert got["version"] == 2 and got["origin"] == "api v2" and got["skip"] == ["10-INTERP", "10-RETOUR"]
    history = intake.get(f"/v1/code-tables/{name}/history", headers=admin).json()["history"]
    assert [(h["version"], h["action"], h["subject"], h["role"]) for h in history] == [
        (1, "created", "admin-ville-test", "admin"), (1, "unchanged", "admin-ville-test", "admin"),
        (2, "created", "admin-2", "admin")]
    assert history[2]["reason"] == "ajout 10-DET"
    assert intake.get(f"/v1/code-tables/{name}/history", headers=dispatch).status_code == 403


def test_an_invalid_table_is_refused_naming_the_problem(intake, token, unique):
    admin = token("admin")
    r = intake.put(f"/v1/code-tables/vt-{unique}", json=table_body(codes={"X": "pas_une_categorie"}), headers=admin)
    assert r.status_code == 422 and "codes" in r.text
    r = intake.put(f"/v1/code-tables/vt-{unique}", json=table_body(skip=["10-EMP"]), headers=admin)
    assert r.status_code == 422 and "à la fois" in r.json()["detail"], r.text
    r = intake.put(f"/v1/code-tables/vt-{unique}", json=table_body(unknown_code="peut-etre"), headers=admin)
    assert r.status_code == 422 and "unknown_code" in r.json()["detail"], r.text
    assert intake.get(f"/v1/code-tables/vt-{unique}", headers=admin).status_code == 404


def test_another_intake_process_picks_up_a_new_version_without_restart(intake, settings, token, unique):
    """Two intake processes share the database: the one that did not take the PUT sees it within refresh_s."""
    name = f"vt-{unique}"
    other = CodeTables.load()
    engine = make_engine(settings.db_url)
    try:
        other.attach(CodeTableStore(make_sessionmaker(engine)), refresh_s=0.0)
        with pytest.raises(KeyError):
            other.get(name)
        assert intake.put(f"/v1/code-tables/{name}", json=table_body(), headers=token("admin")).status_code == 201
        assert other.get(name).category_of("10-SUI").value == "suicidaire"
        assert other.origin(name) == "api v1"
    finally:
        engine.dispose()


# --- dyade replay --mapping: table first, skipped codes counted, rate and time left -------------------------
MAPPING = """\
name: {name}
description: Ville-Test, export CSV du RAO
source_system: ville-test-rao
format: csv
columns: {{received_at: ["Date"], nature_code: ["Code"], call_id: ["No"], address: ["Adresse"]}}
datetime_format: "%Y-%m-%d %H:%M"
timezone: America/Montreal
call_id_prefix: "VT-"
default_sector: S1
unknown_code: reject
skip: [10-RETOUR, 10-INTERP]
codes: {{10-EMP: etat_mental_perturbe, 10-VOL: autre}}
"""


def test_replay_loads_the_mapping_table_then_counts_skipped_codes(intake, token, tmp_path, unique):
    name = f"vt-{unique}"
    mapping_file = tmp_path / f"{name}.yaml"
    mapping_file.write_text(MAPPING.format(name=name))
    day = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%d")
    export = tmp_path / "export.csv"
    export.write_text(textwrap.dedent(f"""\
        Date,Code,No,Adresse
        {day} 08:00,10-EMP,{unique}-1,1200 rue Principale
        {day} 08:05,10-RETOUR,{unique}-2,100 boul. du Poste de police
        {day} 08:10,10-VOL,{unique}-3,45 rue du Marché
        {day} 08:20,10-INTERP,{unique}-4,100 boul. du Poste de police
        """))
    mapping = load_mapping(mapping_file)
    kinds = [r.kind if isinstance(r, SkippedRow) else "ok" for r in read_export([export], mapping)]
    assert kinds == ["ok", "code_ecarte", "ok", "code_ecarte"]
    dispatch = token("dispatch")["Authorization"][7:]
    with pytest.raises(ReplayError, match="pas connue"):  # without the upload: not known to intake
        replay([str(export)], mapping, url="", token=dispatch, client=intake)
    tally = replay([str(export)], mapping, url="", token=dispatch, client=intake,
                   admin_token=token("admin", subject="dyade-replay")["Authorization"][7:])
    assert tally.table["name"] == name and tally.table["version"] == 1 and tally.table["created"]
    assert (tally.rows, tally.accepted, tally.skipped_codes, tally.rejected) == (4, 2, 2, 0)
    assert tally.as_json()["skipped_codes"] == 2
    again = replay([str(export)], mapping, url="", token=dispatch, client=intake,
                   admin_token=token("admin", subject="dyade-replay")["Authorization"][7:])
    assert again.table["version"] == 1 and not again.table["created"] and again.duplicates == 2
    assert "authorization" not in intake.headers  # the client given is left as it was: no token kept on it


def test_replay_with_a_non_admin_token_for_the_table_stops_with_the_reason(intake, token, tmp_path, unique):
    mapping_file = tmp_path / "m.yaml"
    mapping_file.write_text(MAPPING.format(name=f"vt-{unique}"))
    export = tmp_path / "e.csv"
    export.write_text("Date,Code,No,Adresse\n")
    with pytest.raises(ReplayError, match="jeton admin"):
        replay([str(export)], load_mapping(mapping_file), url="", token=token("dispatch")["Authorization"][7:],
               client=intake, admin_token=token("dispatch")["Authorization"][7:])


def test_the_progress_bar_shows_rate_and_time_left():
    progress = replay_progress(Console(width=160))
    assert any(isinstance(c, RateColumn) for c in progress.columns)
    assert any(isinstance(c, TimeRemainingColumn) for c in progress.columns)
    now = [0.0]
    progress.get_time = lambda: now[0]  # type: ignore[method-assign]
    task = progress.add_task("reprise", total=1000)
    for _ in range(10):
        now[0] += 1.0
        progress.advance(task, 50)
    out = Console(width=160, record=True)
    out.print(progress.get_renderable())
    text = out.export_text()
    assert "500/1000" in text and "50 appels/s" in text and "reste 00:10" in text, text
