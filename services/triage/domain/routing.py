"""Whom a call is about, and which key its events travel under.

A call may name several persons. The decision is about its *subject*: the first person with role
`sujet`; failing that the first person who is not only the caller (`victime`, `proche`); failing that
nobody. A call about nobody (most real logs) is keyed by its location: its decision comes from the
location's recurrence and the observed flags. Callers and other persons named on the call do not get
the call counted in their own history (a relative who calls often about someone is not in crisis).
"""
from __future__ import annotations

from typing import Iterable, Protocol


class PersonLike(Protocol):
    person_key: str
    role: str


def choose_subject(persons: Iterable[PersonLike]) -> str | None:
    persons = list(persons)
    for p in persons:
        if p.role == "sujet":
            return p.person_key
    for p in persons:
        if p.role != "appelant":
            return p.person_key
    return None


def subject_key(subject: str | None, location_key: str) -> str:
    """Key of the subject's state: the person key, or the location key for a call about nobody."""
    return subject or location_key
