"""Notifier settings (environment, prefix NOTIFIER_), beside the shared `dyade.settings.Settings`."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dyade.contracts.vocabulary import TriageLevel

from services.notifier.domain.lifecycle import Timing
from services.notifier.domain.roster import Adjacency
from services.notifier.domain.routing import AfterHours


class NotifierConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", env_file=".env", extra="ignore", populate_by_name=True)

    group_id: str = Field("notifier", description="Kafka consumer group of the notifier.")
    ack_delay_s: int = Field(180, ge=5, description="Unacknowledged this long at a dyad → next dyad.")
    supervisor_delay_s: int = Field(600, ge=5, description="Unacknowledged this long at the supervisor → expired.")
    horizon_minutes: int = Field(
        120, ge=1, description="Decisions about calls received longer ago than this create no live alert "
                               "(a replay of history must not page anyone); they are recorded as `hors_horizon`.")
    adjacency: str = Field("", description="Sector neighbours, nearest first: `S1:S2,S3;S2:S1,S3`. "
                                           "Also editable by API (PUT /v1/sectors/{sector}).")
    timezone: str = Field(
        "America/Montreal", validation_alias=AliasChoices("DYADE_TIMEZONE", "NOTIFIER_TIMEZONE", "timezone"),
        description="The organisation's time zone (env DYADE_TIMEZONE): times shown on alerts, shift hours, "
                    "the day of the follow-up list.")
    deferrable_levels: str = Field(
        "dyade_suggeree", description="Deferral policy: levels whose calls may wait for the next shift's list "
                                      "outside team hours (comma-separated; '' = none). Only `dyade_suggeree` "
                                      "may be listed, and a call with a suicidal or imminent-danger reason never "
                                      "waits: it goes to its level's fallback, else `NOTIFIER_ON_CALL`.")
    on_call: str = Field("garde_sociale", min_length=1,
                         description="On-call fallback outside hours for a call that must not wait.")
    after_hours_suggeree: str = Field("", description="Fallback for `dyade_suggeree` outside hours when it does not "
                                                      "wait ('' = the on-call fallback).")
    after_hours_prioritaire: str = Field("garde_sociale", description="Fallback for `dyade_prioritaire` outside hours "
                                                                      "('' = the on-call fallback).")
    after_hours_securite: str = Field("superviseur_patrouille", description="Fallback for `securite_policiers` "
                                                                            "('' = the on-call fallback).")
    tick_s: float = Field(5.0, ge=0, description="Scheduler period (escalation, snooze end, follow-ups); 0 = off.")
    snooze_max_minutes: int = Field(12 * 60, ge=1)
    vapid_subject: str = Field("mailto:dyade@example.org", description="VAPID `sub` claim (contact of the sender).")
    push_ttl_s: int = Field(600, description="Web Push TTL: an alert older than this is useless on a phone.")
    webhook_allowlist: str = Field(
        "", description="Webhook targets allowed although not public (comma-separated host names or CIDRs, "
                        "e.g. `cad-gw.interne,10.20.0.0/16`): a CAD gateway on the organisation's own network. "
                        "Loopback, private, link-local, multicast and reserved addresses are refused otherwise.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"fuseau horaire inconnu: {v!r} (p. ex. America/Montreal)")
        return v

    @field_validator("deferrable_levels")
    @classmethod
    def _levels(cls, v: str) -> str:
        levels = [x.strip() for x in v.split(",") if x.strip()]
        for level in levels:
            TriageLevel(level)   # ValueError names the bad value
        return ",".join(levels)

    @model_validator(mode="after")
    def _policy(self) -> "NotifierConfig":
        self.after_hours  # a level from dyade_prioritaire up can never be deferred: fail at start, not at night
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def timing(self) -> Timing:
        return Timing(ack_delay=timedelta(seconds=self.ack_delay_s),
                      supervisor_delay=timedelta(seconds=self.supervisor_delay_s))

    @property
    def horizon(self) -> timedelta:
        return timedelta(minutes=self.horizon_minutes)

    @property
    def after_hours(self) -> AfterHours:
        return AfterHours({"dyade_suggeree": self.after_hours_suggeree or None,
                           "dyade_prioritaire": self.after_hours_prioritaire or None,
                           "securite_policiers": self.after_hours_securite or None},
                          deferrable=frozenset(x for x in self.deferrable_levels.split(",") if x),
                          on_call=self.on_call)

    @property
    def default_adjacency(self) -> Adjacency:
        return Adjacency.parse(self.adjacency)
