"""Replay of the real Berkeley call logs (the 15-day sample in dyade/data/berkeley-2014): the reader over
every file (stray lines reported and skipped), and a few days through the batch endpoint and the real
broker."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dyade.contracts.topics import CALLS_RECEIVED
from dyade.kafka import wait_until
from services.intake.adapters.code_tables import MappingError
from services.intake.entrypoints.replay.client import replay
from services.intake.entrypoints.replay.reader import AcceptedRow, SkippedRow, load_mapping, read_export
from dyade.paths import BERKELEY

MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "berkeley.yaml"


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING)


def test_every_berkeley_row_is_read_or_skipped_with_a_reason(mapping):
    rows = list(read_export([BERKELEY / "daily"], mapping))
    accepted = [r for r in rows if isinstance(r, AcceptedRow)]
    skipped = Counter(r.kind for r in rows if isinstance(r, SkippedRow))
    assert len(rows) == 3_240  # every data line of the 15 files (dyade/data/berkeley-2014/README.md)
    assert set(skipped) == {"adresse_inconnue", "code_ecarte"} and skipped["adresse_inconnue"] > 100
    # the mapping's `skip` (traffic, pedestrian, bicycle and vehicle stops, security checks...): not calls
    assert skipped["code_ecarte"] > 600 and not any(mapping.table.skips(r.submission.nature_code) for r in accepted)
    cats = Counter(r.category.value for r in accepted)
    assert cats["etat_mental_perturbe"] > 40 and cats["suicidaire"] > 8 and cats["bien_etre"] > 90
    assert cats["violence_conjugale_familiale"] > 20 and cats["desordre_public"] > 200
    assert len({r.submission.call_id for r in accepted}) == len(accepted), "call ids unique (derived ones too)"
    geocoded = sum(r.submission.location.lat is not None for r in accepted)
    assert geocoded > 0.9 * len(accepted)


def test_event_time_kept_as_the_source_gave_it(mapping):
    rows = list(read_export([BERKELEY / "daily" / "07072014.csv"], mapping))
    assert rows[0].kind == "code_ecarte" and "'1194B'" in rows[0].reason  # a bicycle stop: not a call
    first = next(r for r in rows if isinstance(r, AcceptedRow))
    sub = first.submission
    assert sub.call_id == "BPD-2014-00039442" and sub.nature_code == "SUSCIR"
    assert sub.received_at.replace(tzinfo=None).isoformat() == "2014-07-07T00:57:46"
    assert sub.received_at.tzinfo == ZoneInfo("America/Los_Angeles")


def test_stray_lines_in_a_small_export_are_reported(tmp_path, mapping):
    f = tmp_path / "day.csv"
    f.write_text('"junk line",,\n"Date-Time","Call-Incident Type","Incident No.","Full Address"\n'
                 '"07/07/2014 00:06:12","5150","2014-1","2100 BLOCK SHATTUCK AVE"\n'
                 '"31/31/2014 00:00:00","5150","2014-2","2100 BLOCK SHATTUCK AVE"\n'
                 '"07/07/2014 00:07:00","","2014-3","2100 BLOCK SHATTUCK AVE"\n'
                 '"07/07/2014 00:08:00","415","","<UNKNOWN> / "\n'
                 '"07/07/2014 00:09:00","NEW","","ASHBY AVE/ACTON ST"\n,,,\n')
    rows = list(read_export([f], mapping))
    kinds = [r.kind if isinstance(r, SkippedRow) else "ok" for r in rows]
    assert kinds == ["ligne_illisible", "ok", "date_invalide", "code_absent", "adresse_inconnue", "ok", "ligne_vide"]
    derived = rows[-2].submission.call_id
    assert derived.startswith("BPD-X") and derived == list(read_export([f], mapping))[-2].submission.call_id


def test_invalid_mapping_is_refused_with_the_reason(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: x\nmissing_call_id: derive\ncolumns: {received_at: [A]}\ncodes: {A: autre}\n")
    with pytest.raises(MappingError, match="nature_code"):
        load_mapping(bad)
    bad.write_text("name: x\ncolumns: {received_at: A, nature_code: B, address: C, call_id: D}\n"
                   "codes: {A: nimporte}\n")
    with pytest.raises(MappingError, match="catégorie inconnue"):
        load_mapping(bad)


def test_three_days_replay_through_the_broker(intake, mapping, token, reader):
    calls = reader(CALLS_RECEIVED)
    started = datetime.now(timezone.utc)  # the session's broker may already hold these calls from other tests
    days = [BERKELEY / "daily" / n for n in ("07102014.csv", "07172014.csv", "10302014.csv")]
    expected = [r for r in read_export(days, mapping) if isinstance(r, AcceptedRow)]
    tally = replay([str(d) for d in days], mapping, url="", token=token("dispatch")["Authorization"][7:],
                   batch_size=200, client=intake)
    assert tally.accepted + tally.duplicates == len(expected) and tally.rejected == 0
    assert set(tally.skipped) <= {"adresse_inconnue", "code_ecarte"} and tally.skipped_codes > 0
    assert sum(tally.skipped.values()) == tally.rows - len(expected)
    ids = {r.submission.call_id for r in expected}
    wait_until(lambda: intake.app.state.relay.backlog() == 0, timeout=120)
    events = calls.wait_for(lambda e: e.correlation_id in ids and e.produced_at >= started, len(ids), timeout=120)
    assert {e.correlation_id for e in events} == ids
    again = replay([str(d) for d in days], mapping, url="", token=token("dispatch")["Authorization"][7:],
                   client=intake)
    assert again.accepted == 0 and again.duplicates == len(expected)
