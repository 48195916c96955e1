"""NENA EIDO (NENA-STA-021.1b) incident → the call submission intake accepts from any dispatch system.

What is read: the incident id (`$id`), the call start time (`callComponent[].callStartTimestamp`), the
incident type (`incidentComponent.incidentTypeInternalCode`, else `incidentTypeCommonRegistryText`), the
location (`locationComponent[].locationByValue`: PIDF-LO civic address and/or point), the persons
(`personComponent[].ncPersonComponent`: names, birth date; role from `personIncidentRoleRegistryText`),
and the narrative (`notesComponent[].notesActionComments`, EmergencyCallData.Comment additional data).
Everything else is ignored. A part that is missing or malformed raises EidoError naming its JSON path;
so does a text read that holds a control character, a lone surrogate or U+FFFE/U+FFFF (the rules of
dyade.contracts.text: single-line for ids, codes, names and addresses, free text for the notes).

An EIDO with no incidentComponent at all (the standard's own call-transfer sample has none: the call
is handed over before an incident type is set) gets the nature code `EIDO-NON-PRECISE`, which the
shipped code table maps to `autre`.
"""
from __future__ import annotations

import hashlib
import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from dyade.contracts.inbound import PersonIdentity, time_problem
from dyade.contracts.text import line_problem, text_problem

UNSPECIFIED_TYPE = "EIDO-NON-PRECISE"
_CALL_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
_TAGS = re.compile(r"<[^>]+>")

ROLE_MAP = {
    "caller": "appelant", "reportingparty": "appelant", "reporting party": "appelant",
    "victim": "victime", "patient": "sujet", "subject": "sujet", "suspect": "sujet",
    "person of interest": "sujet", "personofinterest": "sujet", "involved": "sujet",
    "witness": "proche", "relative": "proche", "family": "proche",
}


class EidoError(ValueError):
    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class EidoCall:
    """The submission (as a dict CallSubmission validates, without `revision`) and the EIDO's own
    version stamp (`lastUpdateTimeStamp`, else the call start time; `version_path` names the one read):
    intake numbers revisions by the stamps' instants, in their order."""
    submission: dict[str, Any]
    version_at: datetime
    version_path: str
    skipped_persons: int


def _obj(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise EidoError(path, f"objet JSON attendu, reçu {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EidoError(path, f"tableau JSON attendu, reçu {type(value).__name__}")
    return value


def _text(value: Any, path: str) -> str | None:
    """NIEM text: a string, {"value": ...}, or a list of those (the first is taken)."""
    if value is None:
        return None
    if isinstance(value, list):
        return _text(value[0], f"{path}[0]") if value else None
    if isinstance(value, dict):
        return _text(value.get("value"), f"{path}.value")
    if isinstance(value, str):
        _line(value, path)
        return value.strip() or None
    raise EidoError(path, f"texte attendu, reçu {type(value).__name__}")


def _line(value: str, path: str) -> str:
    if (problem := line_problem(value)) is not None:
        raise EidoError(path, problem)
    return value


def _free_text(value: str, path: str) -> str:
    if (problem := text_problem(value)) is not None:
        raise EidoError(path, problem)
    return value


def _timestamp(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise EidoError(path, "horodatage ISO 8601 requis")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EidoError(path, f"horodatage invalide: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise EidoError(path, "horodatage sans fuseau horaire")
    if (problem := time_problem(ts)) is not None:
        raise EidoError(path, problem)
    return ts


def call_id_of(incident_id: str) -> str:
    """The EIDO incident URN as Dyade's call id (hashed when it does not fit the call id format)."""
    if _CALL_ID_OK.match(incident_id):
        return incident_id
    return "eido-" + hashlib.sha256(incident_id.encode()).hexdigest()[:40]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(text: str, path: str) -> ET.Element:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise EidoError(path, "XML avec DOCTYPE/ENTITY refusé")
    try:
        return ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise EidoError(path, f"XML PIDF-LO invalide: {exc}") from None


# PIDF-LO civic parts in the order the street is written (RFC 4119/5139; STP: NENA's street pre-type, "rue"
# in "rue Saint-Louis"; A6: RFC 4119's street, when RD is absent). The order of the type and the name does not
# matter to the location key (services/intake/domain/locations.py reads "Saint-Louis rue" as "rue Saint-Louis").
CIVIC_ORDER = ("HNO", "HNS", "PRD", "STP", "RD", "STS", "POD")


def parse_pidf(text: str, path: str) -> tuple[str | None, float | None, float | None]:
    """(civic address, lat, lon) from a PIDF-LO document."""
    root = _parse_xml(text, path)
    address = lat = lon = None
    for el in root.iter():
        name = _local(el.tag)
        if name == "civicAddress" and address is None:
            parts = {_local(c.tag): " ".join((c.text or "").split()) for c in el}  # XML line breaks: spaces
            parts["RD"] = parts.get("RD") or parts.get("A6", "")
            street = " ".join(parts[k] for k in CIVIC_ORDER if parts.get(k))
            city = ", ".join(parts[k] for k in ("A3", "A1") if parts.get(k))
            address = _line(", ".join(p for p in (street, city) if p), path) or None
        elif name == "pos" and lat is None and el.text:
            nums = el.text.split()
            try:
                lat, lon = float(nums[0]), float(nums[1])
            except (ValueError, IndexError):
                raise EidoError(path, f"gml:pos invalide: {el.text.strip()[:40]!r}") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise EidoError(path, "coordonnées hors limites")
    return address, lat, lon


def _location(doc: dict, incident: dict | None) -> dict:
    components = _list(doc.get("locationComponent"), "locationComponent")
    wanted = {(_obj(r, "incidentComponent.locationReference[]").get("$ref"))
              for r in _list((incident or {}).get("locationReference"), "incidentComponent.locationReference")}
    ordered = sorted(enumerate(components), key=lambda ic: 0 if _obj(ic[1], f"locationComponent[{ic[0]}]")
                     .get("$id") in wanted else 1)
    for i, comp in ordered:
        value = comp.get("locationByValue")
        if value is None:
            continue
        path = f"locationComponent[{i}].locationByValue"
        if not isinstance(value, str):
            raise EidoError(path, "document PIDF-LO (texte XML) attendu")
        address, lat, lon = parse_pidf(value, path)
        if address is None and lat is not None:
            address = f"geo {round(lat, 3)},{round(lon, 3)}"  # ~100 m: block level
        if address:
            return {"address": address[:200], "lat": lat, "lon": lon}
    raise EidoError("locationComponent", "aucune adresse civique ni coordonnée lisible (locationByValue PIDF-LO)")


def _role(values: list, path: str) -> str:
    for v in values:
        if not isinstance(v, str):
            raise EidoError(path, "texte attendu")
        role = ROLE_MAP.get(_line(v, path).strip().lower())
        if role:
            return role
    return "sujet"


def _birth_date(value: Any, path: str) -> str | None:
    """NIEM `nc:PersonBirthDate`: an array of `ncDateType` (a lone object is tolerated), whose `date` (or
    `time`) holds the value."""
    if value is None:
        return None
    if isinstance(value, list):
        if not value:
            return None
        value, path = value[0], f"{path}[0]"
    obj = _obj(value, path)
    field = "date" if obj.get("date") is not None else "time"
    raw = _text(obj.get(field), f"{path}.{field}")
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        raise EidoError(f"{path}.date", f"date invalide: {raw[:20]!r}") from None


def _persons(doc: dict) -> tuple[list[dict], list[str], int]:
    persons, roles, skipped = [], [], 0
    for i, comp in enumerate(_list(doc.get("personComponent"), "personComponent")):
        base = f"personComponent[{i}]"
        comp = _obj(comp, base)
        role = _role(_list(comp.get("personIncidentRoleRegistryText"), f"{base}.personIncidentRoleRegistryText"),
                     f"{base}.personIncidentRoleRegistryText")
        roles.append(role)
        nc = comp.get("ncPersonComponent")
        if nc is None:
            skipped += 1  # a caller known only by a call-back number: nobody to identify
            continue
        nc = _obj(nc, f"{base}.ncPersonComponent")
        names = _list(nc.get("name"), f"{base}.ncPersonComponent.name")
        name = _obj(names[0], f"{base}.ncPersonComponent.name[0]") if names else {}
        npath = f"{base}.ncPersonComponent.name[0]"
        ident = {
            "first_name": _text(name.get("personGivenName"), f"{npath}.personGivenName"),
            "last_name": _text(name.get("personSurName"), f"{npath}.personSurName"),
            "birth_date": _birth_date(nc.get("birthDate"), f"{base}.ncPersonComponent.birthDate"),
            "role": role,
        }
        ident = {k: v for k, v in ident.items() if v is not None}
        if not any(k in ident for k in ("first_name", "last_name")):
            skipped += 1
            continue
        try:
            PersonIdentity.model_validate(ident)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = {"first_name": f"{npath}.personGivenName", "last_name": f"{npath}.personSurName",
                     "birth_date": f"{base}.ncPersonComponent.birthDate"}.get(str((err["loc"] or ("",))[0]),
                                                                              f"{base}.ncPersonComponent")
            raise EidoError(where, err["msg"]) from None
        persons.append(ident)
    return persons[:20], roles, skipped


def _narrative(doc: dict) -> str | None:
    texts = []
    for i, note in enumerate(_list(doc.get("notesComponent"), "notesComponent")):
        note = _obj(note, f"notesComponent[{i}]")
        comment = note.get("notesActionComments")
        path = f"notesComponent[{i}].notesActionComments"
        if not isinstance(comment, str):
            raise EidoError(path, "texte requis par NENA-STA-021")
        texts.append(_free_text(html.unescape(_TAGS.sub(" ", _free_text(comment, path))), path))
    for i, extra in enumerate(_list(doc.get("additionalDataComponent"), "additionalDataComponent")):
        value = _obj(extra, f"additionalDataComponent[{i}]").get("additionalDataByValue")
        if isinstance(value, str) and "EmergencyCallData.Comment" in value:
            path = f"additionalDataComponent[{i}].additionalDataByValue"
            root = _parse_xml(value, path)
            texts += [_free_text(el.text, path).strip() for el in root.iter()
                      if _local(el.tag) == "Comment" and el.text]
    text = "\n".join(" ".join(t.split()) for t in texts if t.strip())
    return text[:4000] or None


# The EIDO part each field of the mapped call submission comes from.
SUBMISSION_PATHS = {"call_id": "$id", "received_at": "callComponent[].callStartTimestamp",
                    "nature_code": "incidentComponent.incidentTypeInternalCode", "location": "locationComponent",
                    "persons": "personComponent", "narrative": "notesComponent"}


def eido_path_of(loc: tuple | list) -> str:
    """The EIDO path to name for an error on a field of the mapped submission (`loc` as pydantic gives it),
    with the field itself: `notesComponent (narrative)`."""
    field = ".".join(str(p) for p in loc)
    part = SUBMISSION_PATHS.get(str(loc[0])) if loc else None
    return f"{part} ({field})" if part else (field or "(racine)")


def map_eido(doc: Any) -> EidoCall:
    doc = _obj(doc, "(racine)")
    incident_id = doc.get("$id")
    if not isinstance(incident_id, str) or not incident_id.strip():
        raise EidoError("$id", "identifiant d'incident requis")
    _line(incident_id, "$id")
    incident = doc.get("incidentComponent")
    if incident is not None:
        incident = _obj(incident, "incidentComponent")
        code = _text(incident.get("incidentTypeInternalCode"), "incidentComponent.incidentTypeInternalCode")
        registry = _text(incident.get("incidentTypeCommonRegistryText"), "incidentComponent.incidentTypeCommonRegistryText")
        if registry is None:
            raise EidoError("incidentComponent.incidentTypeCommonRegistryText", "requis par NENA-STA-021")
        nature = (code or registry)[:40]
    else:
        nature = UNSPECIFIED_TYPE
    calls = _list(doc.get("callComponent"), "callComponent")
    start, start_path = None, "callComponent[0].callStartTimestamp"
    for i, call in enumerate(calls):
        call = _obj(call, f"callComponent[{i}]")
        if call.get("callStartTimestamp") is not None:
            start_path = f"callComponent[{i}].callStartTimestamp"
            start = _timestamp(call["callStartTimestamp"], start_path)
            break
    stamp = doc.get("lastUpdateTimeStamp")
    version = _timestamp(stamp, "lastUpdateTimeStamp") if stamp is not None else start
    if version is None:
        raise EidoError(start_path, "heure de début d'appel requise")
    start = start or version
    version_path = "lastUpdateTimeStamp" if stamp is not None else start_path
    persons, roles, skipped = _persons(doc)
    submission = {
        "call_id": call_id_of(incident_id.strip()),
        "received_at": start.isoformat(),
        "nature_code": nature,
        "location": _location(doc, incident),
        "persons": persons,
        "narrative": _narrative(doc),
    }
    return EidoCall({k: v for k, v in submission.items() if v is not None}, version, version_path, skipped)
