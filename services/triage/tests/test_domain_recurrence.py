"""Recurrence windows by event time, decay, history bounds and configuration."""
import pytest

from services.triage.domain import state as S
from services.triage.domain.config import RulesetConfig
from services.triage.domain.recurrence import Past, counts, decayed_score
from services.triage.tests.factories import DAY, T0, at, call

CFG = RulesetConfig()


def test_windows_count_by_event_time_and_ignore_later_calls():
    entries = [Past(T0 - 1 * DAY, True), Past(T0 - 10 * DAY, True), Past(T0 - 100 * DAY, False),
               Past(T0 - 364 * DAY, True), Past(T0 - 366 * DAY, True), Past(T0 + 1 * DAY, True), Past(T0, True)]
    assert counts(entries, T0) == {"7j": 2, "30j": 3, "90j": 3, "180j": 4, "365j": 5}
    assert counts(entries, T0, crisis_only=True)["365j"] == 4


def test_window_boundary_is_exclusive_of_exactly_window_age():
    assert counts([Past(T0 - 7 * DAY, True)], T0)["7j"] == 0
    assert counts([Past(T0 - 7 * DAY + 1, True)], T0)["7j"] == 1


def test_decayed_score_halves_every_half_life():
    assert decayed_score([Past(T0, True)], T0, 30) == 1.0
    assert decayed_score([Past(T0 - 30 * DAY, True)], T0, 30) == 0.5
    assert decayed_score([Past(T0 - 60 * DAY, True), Past(T0 + DAY, True)], T0, 30) == 0.25


def test_history_is_bounded_by_count_and_age():
    cfg = RulesetConfig(history_max_calls=3, history_max_days=30)
    st = S.new_state()
    for i, d in enumerate([0, 1, 2, 3, 40]):
        S.record_call(st, call(f"c{i}", days=d), cfg)
    assert sorted(st["calls"]) == ["c4"]  # the others are > 30 days older than the newest
    st = S.new_state()
    for i in range(5):
        S.record_call(st, call(f"c{i}", days=i), cfg)
    assert sorted(st["calls"]) == ["c2", "c3", "c4"]


def test_recording_twice_is_idempotent_and_an_older_revision_does_not_replace_a_newer():
    st = S.new_state()
    S.record_call(st, call("c1", revision=2, flags=("arme",)), CFG)
    S.record_call(st, call("c1", revision=2, flags=("arme",)), CFG)
    S.record_call(st, call("c1", revision=1), CFG)
    assert st["calls"]["c1"]["rev"] == 2 and st["calls"]["c1"]["flags"] == ["arme"]


def test_update_before_its_call_is_kept_then_applied():
    st = S.new_state()
    S.record_update(st, {"call_id": "c1", "t": at(0.1), "disp": "transport_p38", "dyad": "D1"})
    assert "c1" in st["pending"]
    S.record_call(st, call("c1"), CFG)
    assert st["pending"] == {}
    assert st["calls"]["c1"]["disp"] == "transport_p38"
    assert S.last_dyad_contact(st) == at(0.1)


def test_a_late_older_disposition_does_not_replace_a_newer_one():
    st = S.new_state()
    S.record_call(st, call("c1"), CFG)
    S.record_update(st, {"call_id": "c1", "t": at(0.2), "disp": "arrestation", "dyad": None})
    S.record_update(st, {"call_id": "c1", "t": at(0.1), "disp": "regle_sur_place", "dyad": None})
    assert st["calls"]["c1"]["disp"] == "arrestation"


def test_config_from_mapping_validates_names_and_values():
    cfg = RulesetConfig.from_mapping({"grande_utilisatrice_calls": "5"})
    assert cfg.grande_utilisatrice_calls == 5 and cfg.version != RulesetConfig().version
    with pytest.raises(ValueError, match="inconnus: seuil"):
        RulesetConfig.from_mapping({"seuil": 3})
    with pytest.raises(ValueError, match="valeur invalide"):
        RulesetConfig.from_mapping({"grande_utilisatrice_calls": "beaucoup"})
    with pytest.raises(ValueError, match="positif"):
        RulesetConfig.from_mapping({"recurrence_calls_30d": 0})


def test_ruleset_loading_from_yaml_and_env(tmp_path):
    from services.triage.options import TriageOptions, load_ruleset
    path = tmp_path / "rules.yaml"
    path.write_text("grande_utilisatrice_calls: 4\nrecurrence_calls_30d: 3\n")
    cfg = load_ruleset(TriageOptions(rules_file=path), environ={"TRIAGE_RULE_RECURRENCE_CALLS_30D": "5"})
    assert (cfg.grande_utilisatrice_calls, cfg.recurrence_calls_30d) == (4, 5)


def test_kept_decisions_are_bounded_newest_first_and_replaced_per_revision():
    st = S.new_state()
    for i in range(S.MAX_DECISIONS + 2):
        S.remember_decision(st, at(i), f"c{i}", 1, f'{{"n": {i}}}')
    S.remember_decision(st, at(S.MAX_DECISIONS + 1), f"c{S.MAX_DECISIONS + 1}", 1, '{"n": "again"}')
    S.remember_decision(st, at(S.MAX_DECISIONS + 1), f"c{S.MAX_DECISIONS + 1}", 2, '{"n": "rev2"}')
    assert len(st["decisions"]) == S.MAX_DECISIONS
    assert S.decisions_of(st, f"c{S.MAX_DECISIONS + 1}") == ['{"n": "rev2"}', '{"n": "again"}']
    assert S.decisions_of(st, "c0") == []


def test_decisions_are_kept_packed_and_read_back_exactly():
    st = S.new_state()
    text = '{"decision_id": "d1", "reasons": [{"label": "Arme mentionnée", "source": "Pratique de Terrebonne"}]}'
    S.remember_decision(st, 1.0, "c1", 1, text)
    stored = st["decisions"][0][3]
    assert stored.startswith(S.PACKED) and len(stored) < len(text)
    assert S.decisions_of(st, "c1") == [text]
    assert S.unpack(text) == text  # a decision kept before packing is read as it was
