"""Every topic, declared once: name `<domain>.<event>.v<major>`, key, partitions, cleanup, events."""
from __future__ import annotations

from dataclasses import dataclass, field

from dyade.contracts.alerts import AlertChanged
from dyade.contracts.calls import CallReceived, CallUpdated
from dyade.contracts.communications import CommunicationRecorded
from dyade.contracts.envelope import Event
from dyade.contracts.frames import FrameChanged, FrameCurrent
from dyade.contracts.referrals import ReferralFiled, ReferralStatusChanged, ReferralSuggested
from dyade.contracts.triage import RecurrenceOverridden, TriageDecided


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    events: tuple[type[Event], ...]
    description: str
    partitions: int = 3
    compacted: bool = False
    retention_days: int | None = 365
    produced_by: str = ""
    consumed_by: tuple[str, ...] = ()
    dlq: bool = field(default=False)
    raw: bool = False

    @property
    def dlq_name(self) -> str:
        return f"{self.name}.dlq"

    @property
    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_days and not self.compacted:
            cfg["retention.ms"] = str(self.retention_days * 86_400_000)
        return cfg

    def config_for(self, replication: int) -> dict[str, str]:
        """The topic's configuration on a cluster with this replication factor (adds min.insync.replicas)."""
        return with_min_insync(self.config, replication)


# Dead-letter topics: one partition, kept long enough for someone to look at them and replay.
DLQ_PARTITIONS = 1
DLQ_RETENTION_DAYS = 30
DLQ_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(DLQ_RETENTION_DAYS * 86_400_000)}


def min_insync_replicas(replication: int) -> int:
    """With acks=all, a write needs this many in-sync replicas: 2 of 3 in production (one broker may be
    down or restarting without stopping producers, and no acknowledged write lives on a single disk)."""
    return max(1, min(2, replication - 1))


def with_min_insync(config: dict[str, str], replication: int) -> dict[str, str]:
    if replication <= 1:
        return dict(config)
    return {**config, "min.insync.replicas": str(min_insync_replicas(replication))}


CALLS_RAW = Topic("calls.raw.v1", "call_id", (), "Raw call JSON produced by a dispatch system; intake validates it.",
                  produced_by="cad", consumed_by=("intake",), dlq=True, raw=True, retention_days=7)
# Calls and their updates are keyed by location (v2; v1 was keyed by call id): the calls at one place meet in
# one partition, in order, so triage counts a place's recurrence where the call arrives (one stage, no
# repartition for calls about nobody). Intake puts the call's location key on every update.
CALLS_RECEIVED = Topic("calls.received.v2", "location_key", (CallReceived,), "Calls accepted by intake, keyed by location.",
                       produced_by="intake", consumed_by=("triage", "analytics"), dlq=True)
CALLS_UPDATED = Topic("calls.updated.v2", "location_key", (CallUpdated,),
                      "Call status changes and dispositions, keyed by the call's location.",
                      produced_by="intake", consumed_by=("triage", "notifier", "analytics"), dlq=True)
REFERRALS_FILED = Topic("referrals.filed.v1", "person_key", (ReferralFiled,), "Social referrals filed by people.",
                        produced_by="intake", consumed_by=("triage", "infosocial", "analytics"), dlq=True)
REFERRALS_SUGGESTED = Topic("referrals.suggested.v1", "person_key", (ReferralSuggested,),
                            "Referrals suggested by triage for the social worker.",
                            produced_by="triage", consumed_by=("infosocial",), dlq=True)
REFERRALS_STATUS = Topic("referrals.status.v1", "person_key", (ReferralStatusChanged,),
                         "Referral work-queue state changes.", produced_by="infosocial",
                         consumed_by=("triage", "analytics"), dlq=True)
TRIAGE_DECIDED = Topic("triage.decided.v1", "call_id", (TriageDecided,), "One triage decision per call revision.",
                       produced_by="triage", consumed_by=("notifier", "analytics"), dlq=True)
TRIAGE_OVERRIDDEN = Topic("triage.overridden.v1", "person_key", (RecurrenceOverridden,),
                          "Manual recurrence overrides by social workers.", produced_by="infosocial",
                          consumed_by=("triage",), dlq=True)
FRAMES_CURRENT = Topic("frames.current.v1", "person_key", (FrameCurrent,),
                       "Current police view of each frame; tombstone when archived.", compacted=True,
                       produced_by="infosocial", consumed_by=("triage", "notifier"), dlq=True, retention_days=None)
FRAMES_CHANGED = Topic("frames.changed.v1", "person_key", (FrameChanged,),
                       "Frame approvals, review-due, stale and archive events.", produced_by="infosocial",
                       consumed_by=("analytics", "notifier"), dlq=True)
ALERTS_CHANGED = Topic("alerts.changed.v1", "alert_id", (AlertChanged,), "Every alert state change.",
                       produced_by="notifier", consumed_by=("analytics",), dlq=True)

# The register of communications (LRSSS arts. 74–76): Info-social keeps it in its database (the record) and
# writes its own reads there directly, in the statement of the read. Kept ten years: an Info-social restored
# from an older backup takes the other services' entries since again from the topic (idempotent by event id).
COMMUNICATIONS_RECORDED = Topic("communications.recorded.v1", "person_key", (CommunicationRecorded,),
                                "Communications of a person's information (what, to whom, why, on what legal "
                                "basis, when), for the register kept by Info-social.",
                                produced_by="intake, notifier", consumed_by=("infosocial",), dlq=True,
                                retention_days=3650)


@dataclass(frozen=True)
class GroupTopic:
    """A topic one consumer group keeps for itself, named after the group (`<group>-<suffix>`): several groups
    of one service may share a broker (tests, a replay under a new app id). Its service creates it at start
    with the partition count of the topics it is co-partitioned with; `dyade topics` does not."""
    suffix: str
    key: str
    description: str
    retention_days: int
    produced_by: str
    consumed_by: tuple[str, ...]

    def of(self, group: str) -> Topic:
        return Topic(f"{group}-{self.suffix}", self.key, (), self.description, retention_days=self.retention_days,
                     produced_by=self.produced_by, consumed_by=self.consumed_by, raw=True)


# Triage's hand-off from its place stage (calls.*.v2, keyed by location) to its person stage, keyed by person
# like the person-keyed inputs it is co-partitioned with. Its records are triage's own (CallRecord and
# UpdateRecord, services/triage/domain/records.py), not contract events. Kept a week.
TRIAGE_BY_SUBJECT = GroupTopic("events-by-subject", "person_key",
                               "Calls and call updates about a person, handed from triage's place stage to its "
                               "person stage.", retention_days=7, produced_by="triage", consumed_by=("triage",))

TOPICS: tuple[Topic, ...] = (
    CALLS_RAW, CALLS_RECEIVED, CALLS_UPDATED, REFERRALS_FILED, REFERRALS_SUGGESTED, REFERRALS_STATUS,
    TRIAGE_DECIDED, TRIAGE_OVERRIDDEN, FRAMES_CURRENT, FRAMES_CHANGED, ALERTS_CHANGED, COMMUNICATIONS_RECORDED,
)


def topic_for(event_cls: type[Event]) -> Topic:
    for topic in TOPICS:
        if event_cls in topic.events:
            return topic
    raise KeyError(event_cls.TYPE)


def all_topic_names() -> list[str]:
    names = []
    for t in TOPICS:
        names.append(t.name)
        if t.dlq:
            names.append(t.dlq_name)
    return names
