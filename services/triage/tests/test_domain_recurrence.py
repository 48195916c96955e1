"""Recurrence windows by event time, decay, history bounds, exact counts past the bound, configuration."""
import base64
import random
import zlib
from dataclasses import replace
from datetime import date, datetime

import pytest
import zstandard
from hypothesis import given, settings, strategies as st

from services.triage.domain import packing, place as P, state as S
from services.triage.domain.config import WINDOWS_DAYS, RulesetConfig
from services.triage.domain.decide import decide
from services.triage.domain.recurrence import ZONE, Past, counts, decayed_score
from services.triage.tests.factories import DAY, T0, at, call, update

CFG = RulesetConfig()


def test_windows_count_by_event_time_and_ignore_later_calls():
    entries = [Past(T0 - 1 * DAY, True), Past(T0 - 10 * DAY, True), Past(T0 - 100 * DAY, False),
               Past(T0 - 364 * DAY, True), Past(T0 - 366 * DAY, True), Past(T0 + 1 * DAY, True), Past(T0, True)]
    assert counts(entries, T0) == {"7j": 2, "30j": 3, "90j": 3, "180j": 4, "365j": 5}
    assert counts(entries, T0, crisis_only=True)["365j"] == 4


def test_windows_are_civil_days_in_quebec_time():
    # T0 is Sunday 2025-06-01 08:00 in Montréal: the 7-day window starts on Monday 26 May at midnight there
    start = datetime(2025, 5, 26, tzinfo=ZONE).timestamp()
    assert counts([Past(start, True)], T0)["7j"] == 1
    assert counts([Past(start - 1, True)], T0)["7j"] == 0 and counts([Past(start - 1, True)], T0)["30j"] == 1
    assert counts([Past(T0 - 7 * DAY, True)], T0)["7j"] == 0
    assert counts([Past(T0 + 1, True)], T0)["7j"] == 0  # later the same day: not yet
    # across the change to daylight time (9 March 2025, a 23-hour day), still calendar days
    at_ = datetime(2025, 3, 12, 9, tzinfo=ZONE).timestamp()
    first = datetime(2025, 3, 6, tzinfo=ZONE).timestamp()
    assert counts([Past(first, True), Past(first - 1, True)], at_)["7j"] == 1


def test_decayed_score_halves_every_half_life():
    assert decayed_score([Past(T0, True)], T0, 30) == 1.0
    assert decayed_score([Past(T0 - 30 * DAY, True)], T0, 30) == 0.5
    assert decayed_score([Past(T0 - 60 * DAY, True), Past(T0 + DAY, True)], T0, 30) == 0.25


def test_history_is_bounded_by_count_and_age():
    cfg = RulesetConfig(history_max_calls=3, history_max_days=30)
    st_ = S.new_state()
    for i, d in enumerate([0, 1, 2, 3, 40]):
        S.record_call(st_, call(f"c{i}", days=d), cfg)
    assert sorted(st_.calls) == ["c4"]  # the others are > 30 days older than the newest
    assert st_.overflow.days == []   # … and their days too
    st_ = S.new_state()
    for i in range(5):
        S.record_call(st_, call(f"c{i}", days=i), cfg)
    assert sorted(st_.calls) == ["c2", "c3", "c4"]
    assert [b.calls for b in st_.overflow.days] == [1, 1]  # c0 and c1 still counted, by day


def test_recording_twice_is_idempotent_and_an_older_revision_does_not_replace_a_newer():
    st = S.new_state()
    S.record_call(st, call("c1", revision=2, flags=("arme",)), CFG)
    S.record_call(st, call("c1", revision=2, flags=("arme",)), CFG)
    S.record_call(st, call("c1", revision=1), CFG)
    assert st.calls["c1"].revision == 2 and st.calls["c1"].flags == ["arme"]


def test_update_before_its_call_is_kept_then_applied():
    st = S.new_state()
    S.record_update(st, update("c1", at(0.1), disposition="transport_p38", dyad="D1"))
    assert "c1" in st.pending
    S.record_call(st, call("c1"), CFG)
    assert st.pending == {}
    assert st.calls["c1"].disposition == "transport_p38"
    assert S.last_dyad_contact(st) == at(0.1)


def test_a_late_older_disposition_does_not_replace_a_newer_one():
    st = S.new_state()
    S.record_call(st, call("c1"), CFG)
    S.record_update(st, update("c1", at(0.2), disposition="arrestation"))
    S.record_update(st, update("c1", at(0.1), disposition="regle_sur_place"))
    assert st.calls["c1"].disposition == "arrestation"


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
    from services.triage.config import TriageOptions, load_ruleset
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
    assert len(st.decisions) == S.MAX_DECISIONS
    assert S.decisions_of(st, f"c{S.MAX_DECISIONS + 1}") == ['{"n": "rev2"}', '{"n": "again"}']
    assert S.decisions_of(st, "c0") == []


def test_decisions_are_kept_packed_and_read_back_exactly():
    st = S.new_state()
    text = '{"decision_id": "d1", "reasons": [{"label": "Arme mentionnée", "source": "Pratique de Terrebonne"}]}'
    S.remember_decision(st, 1.0, "c1", 1, text)
    stored = st.decisions[0].packed
    assert isinstance(stored, bytes) and len(stored) < len(text)
    assert S.decisions_of(st, "c1") == [text]
    # kept as text before: base64 of a deflate stream after `z1:`, or the plain JSON from before packing
    z = zlib.compressobj(zdict=packing.DEFLATE_DICTIONARIES["z1"])
    deflated = z.compress(text.encode()) + z.flush()
    assert S.unpack(packing.packed_from_text(packing.PACKED_TEXT + base64.b64encode(deflated).decode())) == text
    assert S.unpack(packing.packed_from_text(text)) == text
    for name, zdict in packing.DEFLATE_DICTIONARIES.items():   # packed with any shipped dictionary, it names it
        z = zlib.compressobj(zdict=zdict)
        assert S.unpack(z.compress(text.encode()) + z.flush()) == text, name
    for name, zdict in packing.ZSTD_DICTIONARIES.items():
        assert S.unpack(zstandard.ZstdCompressor(dict_data=zdict).compress(text.encode())) == text, name


# --- exact windows past the detail -------------------------------------------------------------------

CATS = ["etat_mental_perturbe", "desordre_public", "suicidaire", "violence_conjugale_familiale", "autre"]


def local_day(t: float) -> date:
    return datetime.fromtimestamp(t, ZONE).date()


def reference(calls, at_: float, exclude: str | None = None) -> tuple[dict, dict]:
    """Every call kept, counted the plain way: same or earlier civil day within N days, not after `at`."""
    out, crisis = {f"{d}j": 0 for d in WINDOWS_DAYS}, {f"{d}j": 0 for d in WINDOWS_DAYS}
    for c in calls:
        if c.call_id == exclude or c.t > at_:
            continue
        age = (local_day(at_) - local_day(c.t)).days
        for d in WINDOWS_DAYS:
            if age < d:
                out[f"{d}j"] += 1
                crisis[f"{d}j"] += c.crisis
    return out, crisis


def year_of_calls(n: int, seed: int, span_days: float = 365) -> list:
    rnd = random.Random(seed)
    return [call(f"y{i}", days=-rnd.uniform(0, span_days), category=rnd.choice(CATS)) for i in range(n)]


def test_500_calls_over_a_year_give_exact_counts_in_every_window_in_bounded_memory():
    calls = year_of_calls(500, seed=3)
    st_ = S.new_state()
    for c in sorted(calls, key=lambda c: c.t):
        S.record_call(st_, c, CFG)
    assert len(st_.calls) == CFG.history_max_calls
    assert len(st_.overflow.days) <= CFG.history_max_days + 1
    for at_ in [T0, T0 + 0.5 * DAY, T0 + 40 * DAY] + [c.t for c in calls[:40]]:
        rec = S.recurrence_as_of(st_, at_, CFG.decay_half_life_days)
        expected, expected_crisis = reference(calls, at_)
        if at_ >= st_.overflow.latest:  # decided after its predecessors (the usual order): exact
            assert rec.calls == expected and rec.crisis == expected_crisis
            assert rec.crisis_year == expected_crisis["365j"]
    assert S.recurrence_as_of(st_, T0, 30).calls["365j"] == 500  # not the 101 of a capped history


def test_the_decision_and_its_reasons_say_the_true_count():
    calls = year_of_calls(500, seed=4, span_days=29)  # all within 30 days
    st_ = S.new_state()
    for c in calls:
        S.record_call(st_, c, CFG)
    d = decide(call("now", days=0.01), st_, {}, 0, CFG).payload
    assert d.recurrence.person_calls["30j"] == 501 and d.recurrence.person_calls["365j"] == 501
    crisis = sum(c.crisis for c in calls) + 1
    observed = {r.factor: r.observed for r in d.reasons}
    assert observed["recurrence.30j"] == "501 appels en 30 jours"
    assert observed["recurrence.grande_utilisatrice"].startswith(f"{crisis} appels de crise en 365 jours")


def test_memory_per_subject_stays_bounded_over_years_of_calls():
    st_ = S.new_state()
    for i in range(3000):  # three years, ~3 calls a day
        S.record_call(st_, call(f"m{i}", days=i * 0.37), CFG)
    assert len(st_.calls) == CFG.history_max_calls
    assert len(st_.overflow.days) <= CFG.history_max_days + 1
    assert len(st_.overflow.pushed_out) <= 20
    newest = max(e.time for e in st_.calls.values())
    assert S.recurrence_as_of(st_, newest + 1, 30).calls == reference(
        [call(f"m{i}", days=i * 0.37) for i in range(3000)], newest + 1)[0]


@settings(max_examples=15, deadline=None)
@given(st.integers(120, 400), st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_counts_do_not_depend_on_the_order_calls_arrived_in(n, seed, rnd):
    calls = year_of_calls(n, seed)
    shuffled = calls[:]
    rnd.shuffle(shuffled)
    a, b = S.new_state(), S.new_state()
    for c in sorted(calls, key=lambda c: c.t):
        S.record_call(a, c, CFG)
    for c in shuffled:
        S.record_call(b, c, CFG)
    at_ = T0 + rnd.uniform(0, 3) * DAY
    ra, rb = S.recurrence_as_of(a, at_, 30), S.recurrence_as_of(b, at_, 30)
    assert ra._replace(decayed=round(ra.decayed, 9)) == rb._replace(decayed=round(rb.decayed, 9))
    assert S.recurrence_as_of(a, at_, 30).calls == reference(calls, at_)[0]


def test_a_redelivered_or_revised_call_already_pushed_out_is_not_counted_twice():
    st_ = S.new_state()
    calls = [call(f"r{i}", days=-200 + i) for i in range(CFG.history_max_calls + 1)]
    first = decide(calls[0], st_, {}, 0, CFG).payload
    for c in calls:
        S.record_call(st_, c, CFG)
    assert "r0" not in st_.calls             # pushed out, counted in its day
    S.record_call(st_, calls[0], CFG)            # redelivered
    S.record_call(st_, replace(calls[0], revision=2), CFG)
    S.record_update(st_, update("r0", calls[0].t + 60, disposition="arrestation"))
    assert "r0" not in st_.calls and "r0" not in st_.pending
    assert S.recurrence_as_of(st_, T0, 30).calls["365j"] == CFG.history_max_calls + 1
    again = decide(calls[0], st_, {}, 0, CFG).payload  # reprocessed: the same decision
    assert again.recurrence == first.recurrence


def test_a_busy_place_counts_every_call():
    place = P.new_place()
    for i in range(300):
        P.record_call(place, f"l{i}", at(-i * 0.09), i % 3 == 0, None, CFG)
    assert len(place.recent) == CFG.history_max_calls
    loc_counts, crisis_30 = P.recurrence(place, at(0))
    assert loc_counts["30j"] == 300 and crisis_30 == 100


def test_crisis_categories_and_domestic_violence_calls_count_past_the_detail_too():
    st_ = S.new_state()
    for i in range(50):
        S.record_call(st_, call(f"v{i}", days=-300 + i, category="violence_conjugale_familiale"), CFG)
    for i in range(CFG.history_max_calls):
        S.record_call(st_, call(f"e{i}", days=-100 + i * 0.5, category="etat_mental_perturbe"), CFG)
    rec = S.recurrence_as_of(st_, T0, 30)
    assert rec.categories == {"violence_conjugale_familiale", "etat_mental_perturbe"} and rec.vcf == 50
    d = decide(call("now", category="violence_conjugale_familiale"), st_, {}, 0, CFG).payload
    homicide = next(r for r in d.reasons if r.factor == "danger.homicide_conjugal")
    assert homicide.observed == "violence conjugale/familiale répétée (51 appels en 365 jours)"
