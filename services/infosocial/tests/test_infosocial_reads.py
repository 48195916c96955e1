"""The read cache of the patrol terminals' path: a read that began before a write is not cached after it."""
from __future__ import annotations

from services.infosocial.adapters import reads as reads_module
from services.infosocial.adapters.frames import FrameCommands
from services.infosocial.adapters.reads import FrameReads, SnapshotCache
from services.infosocial.domain.content import ConsentRecord

from infosocial_helpers import SW_B, create_active

OLD, NEW = object(), object()


def test_a_read_begun_before_an_invalidation_is_not_cached():
    cache = SnapshotCache()
    began = cache.generation("p_1")      # reader: cache missed, about to read the row
    cache.invalidate("p_1")              # writer: committed, invalidates (nothing cached yet)
    assert cache.put("p_1", OLD, began) is False   # reader: what it read may predate the write
    assert cache.get("p_1") == (False, None)
    again = cache.generation("p_1")      # the next read, begun after the write, is cached
    assert cache.put("p_1", NEW, again) is True and cache.get("p_1") == (True, NEW)
    cache.invalidate("p_2")              # another person's write changes nothing for this one
    assert cache.put("p_1", NEW, cache.generation("p_1")) is True


def test_dropping_the_generations_to_bound_memory_keeps_a_read_begun_before_from_being_cached():
    cache = SnapshotCache(max_entries=1)
    began = cache.generation("p_1")
    cache.invalidate("p_1")
    cache.invalidate("p_2")              # the generations are dropped here (p_1's with them)
    assert cache.put("p_1", OLD, began) is False and cache.get("p_1") == (False, None)


def test_a_withdrawal_committed_during_a_terminal_read_is_seen_by_the_next_read(api, sw, person, runtime,
                                                                               monkeypatch):
    """The interleaving, through FrameReads on the service's database: the reader reads the frame (consent
    obtained), then the withdrawal commits and invalidates, then the reader stores what it read."""
    fid = create_active(api, sw, person)
    cache = SnapshotCache()
    reads = FrameReads(runtime.factory, cache)
    commands = FrameCommands(runtime.factory, after_commit=cache.invalidate)
    read_row = reads_module.snapshot

    def then_withdrawn(session, frame):
        snap = read_row(session, frame)
        monkeypatch.setattr(reads_module, "snapshot", read_row)  # once
        commands.record_consent(fid, ConsentRecord(status="refuse"), SW_B, "retrait pendant une lecture")
        return snap

    monkeypatch.setattr(reads_module, "snapshot", then_withdrawn)
    assert reads.for_person(person).consent.status.value == "obtenu"  # read before the withdrawal
    assert reads.for_person(person).consent.status.value == "refuse"  # not the stale snapshot from the cache
