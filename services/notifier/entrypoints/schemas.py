"""Request bodies of the notifier's API (validation errors come back in French, naming the field).

Every string is a `Line` (names, ids, urls, keys: no control character at all) or a `Text` (reasons and
notes: tab and newlines allowed) from dyade.contracts.text, or has an ASCII pattern: NUL and the other
control characters are a 422 naming the field, not a database error."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dyade.contracts.text import Line, OptLine, OptText, Text
from dyade.contracts.vocabulary import SECTOR_CODE, Disposition

TIME = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
SECTOR = SECTOR_CODE


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(Body):
    name: Line = Field(min_length=1, max_length=120)
    role: Literal["policier", "intervenant"]


class ShiftIn(Body):
    days: list[int] = Field(min_length=1, max_length=7, description="0 = lundi … 6 = dimanche")
    start: str = Field(pattern=TIME, description="HH:MM, heure de Montréal")
    end: str = Field(pattern=TIME, description="HH:MM; une fin avant le début passe minuit")

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("les jours vont de 0 (lundi) à 6 (dimanche)")
        return sorted(set(v))


def default_shifts() -> list[ShiftIn]:
    return [ShiftIn(days=list(range(7)), start="08:00", end="20:00")]


class DyadIn(Body):
    name: Line = Field(min_length=1, max_length=200)
    sector: str = Field(pattern=SECTOR)
    members: list[MemberIn] = Field(default_factory=list, max_length=4)
    shifts: list[ShiftIn] = Field(default_factory=default_shifts, max_length=14)
    active: bool = True


class WebhookIn(Body):
    url: Line = Field(pattern=r"^https?://", max_length=2000)


class SectorIn(Body):
    neighbours: list[Annotated[str, Field(pattern=SECTOR)]] = Field(default_factory=list, max_length=20,
                                                                    description="Secteurs voisins, du plus proche")


class SubscriptionKeys(Body):
    p256dh: Line = Field(min_length=20, max_length=200)
    auth: Line = Field(min_length=8, max_length=100)


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # browsers add expirationTime
    endpoint: Line = Field(pattern=r"^https?://", max_length=2000)
    keys: SubscriptionKeys
    dyad_id: OptLine = Field(None, max_length=64, description="Superviseur seulement: la dyade de l'appareil.")


class DeclineIn(Body):
    reason: Text = Field(min_length=3, max_length=300)


class CloseIn(Body):
    disposition: Disposition
    note: OptText = Field(None, max_length=500)


class SnoozeIn(Body):
    reason: Text = Field(min_length=3, max_length=300)
    minutes: int = Field(60, ge=5, le=24 * 60)


class PlanIn(Body):
    dyad_id: Line = Field(min_length=1, max_length=64)
    every_minutes: int = Field(ge=30, le=60 * 24 * 14, description="Fréquence du suivi (≥ 30 min)")
    first_due_at: datetime | None = None
    active: bool = True
    note: OptText = Field(None, max_length=500, description="Consigne, sans données de santé.")
    person_label: OptLine = Field(None, max_length=120, description="Comment la dyade reconnaît la personne "
                                                                       "(prénom, initiales), sans donnée de santé.")
    address: OptLine = Field(None, max_length=300, description="Adresse au pâté de maisons où passer. Sans "
                                                                  "adresse: celle du dernier appel connu de la personne.")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class BulkCloseIn(Body):
    alert_ids: list[Annotated[Line, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=200)
    reason: Text = Field(min_length=3, max_length=300, description="Pourquoi ces alertes sont fermées (sans nom ni "
                                                                  "donnée de santé).")
    disposition: Disposition = Disposition.AUCUNE_INTERVENTION
