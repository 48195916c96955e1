"""Analytics settings (environment, prefix ANALYTICS_), beside the shared `dyade.settings.Settings` (which
holds the organisation's time zone, DYADE_TIMEZONE)."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dyade.settings import Settings, SettingsError


class AnalyticsConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", env_file=".env", extra="ignore")

    window_days: int = Field(
        180, ge=30, le=730, description="Before/after comparison: longest window on each side of the "
                                        "intervention start, in days (the reader may choose another).")
    min_followup_days: int = Field(
        14, ge=1, le=365, description="Before/after comparison: a person enters the cohort once both her "
                                      "follow-up after the intervention start and the history before it "
                                      "cover at least this many days (the reader may choose another).")
    backfill_minutes: int = Field(
        120, ge=1, description="A call that reached Dyade more than this long after the dispatch system "
                               "received it is history (replay, backfill, catch-up): kept out of the live "
                               "latency figures. 120, as the notifier's horizon for live alerts.")

    @property
    def backfill_after(self) -> timedelta:
        return timedelta(minutes=self.backfill_minutes)


def organisation_tz(settings: Settings) -> ZoneInfo:
    """DYADE_TIMEZONE as a zone; a name that is not one refuses to start, saying so."""
    name = settings.dyade_timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"DYADE_TIMEZONE: fuseau horaire inconnu ({name!r}); attendu un nom IANA, "
                            f"p. ex. America/Montreal") from None
