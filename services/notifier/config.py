"""Notifier settings (environment, prefix NOTIFIER_), beside the shared `dyade.settings.Settings`."""
from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifier.domain.lifecycle import Timing
from services.notifier.domain.roster import Adjacency
from services.notifier.domain.routing import AfterHours


class NotifierConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", env_file=".env", extra="ignore")

    group_id: str = Field("notifier", description="Kafka consumer group of the notifier.")
    ack_delay_s: int = Field(180, ge=5, description="Unacknowledged this long at a dyad → next dyad.")
    supervisor_delay_s: int = Field(600, ge=5, description="Unacknowledged this long at the supervisor → expired.")
    horizon_minutes: int = Field(
        120, ge=1, description="Decisions about calls received longer ago than this create no live alert "
                               "(a replay of history must not page anyone); they are recorded as `hors_horizon`.")
    adjacency: str = Field("", description="Sector neighbours, nearest first: `S1:S2,S3;S2:S1,S3`. "
                                           "Also editable by API (PUT /v1/sectors/{sector}).")
    after_hours_suggeree: str = Field("", description="Fallback for `dyade_suggeree` outside hours ('' = next morning).")
    after_hours_prioritaire: str = Field("garde_sociale", description="Fallback for `dyade_prioritaire` outside hours.")
    after_hours_securite: str = Field("superviseur_patrouille", description="Fallback for `securite_policiers`.")
    tick_s: float = Field(5.0, ge=0, description="Scheduler period (escalation, snooze end, follow-ups); 0 = off.")
    snooze_max_minutes: int = Field(12 * 60, ge=1)
    vapid_subject: str = Field("mailto:dyade@example.org", description="VAPID `sub` claim (contact of the sender).")
    push_ttl_s: int = Field(600, description="Web Push TTL: an alert older than this is useless on a phone.")

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
                           "securite_policiers": self.after_hours_securite or None})

    @property
    def default_adjacency(self) -> Adjacency:
        return Adjacency.parse(self.adjacency)
