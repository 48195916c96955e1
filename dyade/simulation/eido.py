"""NENA EIDO (NENA-STA-021.1b) documents for simulated calls, and a validator against the standard's own
schema (dyade/standards/nena-eido/openapi.yaml, whose `$ref`s point into NIEMComponents/).

A call becomes one EIDO: an incident component (the CAD's nature code, priority, sector), the call
component, the agency, the location (PIDF-LO civic address and point), the persons (NIEM names and
birth dates), the narrative as a note and the observed flags as cautions.
"""
from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse
from xml.sax.saxutils import escape

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from dyade.simulation.profiles import NATURE_OF_CODE
from dyade.paths import EIDO_STANDARD

STANDARD_DIR = Path(os.environ.get("DYADE_EIDO_STANDARD", EIDO_STANDARD))
EIDO_TYPE = "EmergencyIncidentDataObjectType"
AGENCY = "spvd.qc.ca"  # short: intake keeps an incident URN of <= 64 characters as the call id

COMMON_INCIDENT_TYPE = {  # NENA incident type registry wording, by nature
    "EMP": "Police/MentalHealth", "SUI": "Police/Suicide", "DET": "Police/PersonInDistress",
    "BE": "Police/WelfareCheck", "VCF": "Police/DomesticViolence", "DES": "Police/Disturbance",
    "AUT": "Police/Other",
}
PERSON_ROLE = {"sujet": "Subject", "appelant": "Caller", "victime": "Victim", "proche": "Relative"}
CAUTION = {"arme": ("Weapons", "highest"), "menaces_de_mort": ("Threats", "highest"),
           "menaces": ("Threats", "high"), "violence": ("Violence", "high"),
           "plan_suicidaire": ("Suicidal", "highest"), "gestes_suicidaires": ("Suicidal", "highest"),
           "idees_suicidaires": ("Suicidal", "high"), "automutilation": ("SelfHarm", "high"),
           "intoxication": ("Intoxication", "normal"), "demande_p38": ("MentalHealthOrder", "normal")}
PRIORITY = {1: "highest", 2: "high", 3: "normal", 4: "low", 5: "lowest"}


def _prologue(cid: str, at: str) -> dict:
    return {"$id": cid, "lastUpdateTimeStamp": at, "updatedByAgencyReference": {"$ref": AGENCY}}


def _pidf(location: dict, city: str, entity: str) -> str:
    """A PIDF-LO presence document with the civic address (Québec, Canada) and the point."""
    address = location["address"]
    place, _, civic_street = address.rpartition(", ") if address.count(", ") > 1 else ("", "", address)
    number, _, street = civic_street.partition(", ")
    if not street:
        number, street = "", civic_street
    point = ""
    if location.get("lat") is not None and location.get("lon") is not None:
        point = (f'<gp:location-info-point><gml:Point xmlns:gml="http://www.opengis.net/gml" srsName='
                 f'"urn:ogc:def:crs:EPSG::4326"><gml:pos>{location["lat"]} {location["lon"]}</gml:pos>'
                 f'</gml:Point></gp:location-info-point>')
    loc_name = f"<LOC>{escape(place)}</LOC>" if place else ""
    return ('<?xml version="1.0" encoding="UTF-8"?> <presence xmlns="urn:ietf:params:xml:ns:pidf" '
            'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
            f'entity="pres:{escape(entity)}"> <dm:device id="cad"> <gp:geopriv> <gp:location-info> '
            '<civicAddress xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"> <country>CA</country> '
            f'<A1>QC</A1> <A3>{escape(city)}</A3> <RD>{escape(street)}</RD> <HNO>{escape(number)}</HNO> {loc_name}'
            f'</civicAddress> {point}</gp:location-info> <gp:method>Manual</gp:method> </gp:geopriv> '
            '</dm:device> </presence>')


def to_eido(call: dict, city: str = "Ville-Démo", agency: str = AGENCY) -> dict:
    """The EIDO of a CallSubmission dict."""
    cid, at = call["call_id"], call["received_at"]
    base = "urn:emergency:uid:{}:" + f"{cid}:{agency}"
    incident_id, call_urn, loc_id = base.format("incidentid"), base.format("callid"), base.format("locationid")
    nature = NATURE_OF_CODE.get(call["nature_code"])
    persons, person_refs = [], []
    for i, p in enumerate(call.get("persons", [])):
        pid = base.format(f"personid{i + 1}")
        name = {}
        if p.get("first_name"):
            name["personGivenName"] = [{"value": p["first_name"]}]
        if p.get("last_name"):
            name["personSurName"] = [{"value": p["last_name"]}]
        nc = {"name": [name]} if name else {}
        if p.get("birth_date"):
            nc["birthDate"] = [{"date": [{"value": p["birth_date"]}]}]
        if p.get("cad_person_id"):
            nc["identification"] = [{"identificationId": [{"value": p["cad_person_id"]}]}]
        persons.append({**_prologue(pid, at), "personIncidentRoleRegistryText": [PERSON_ROLE.get(p.get("role", "sujet"),
                                                                                                 "Subject")],
                        "ncPersonComponent": nc, "callIdentifier": [call_urn], "locationReference": [{"$ref": loc_id}]})
        person_refs.append({"$ref": pid})
    cautions = [{**_prologue(base.format(f"cautionid{i + 1}"), at), "cautionTypeInternalText": flag,
                 "cautionTypeCommonRegistryText": CAUTION[flag][0], "cautionSeverity": CAUTION[flag][1],
                 "cautionSource": agency}
                for i, flag in enumerate(call.get("flags", [])) if flag in CAUTION]
    notes = []
    if call.get("narrative"):
        notes.append({**_prologue(base.format("noteid"), at), "notesActionComments": escape(call["narrative"]),
                      "cautionReference": [{"$ref": c["$id"]} for c in cautions]})
    loc = call["location"]
    incident = {**_prologue(incident_id, at),
                "incidentTypeCommonRegistryText": COMMON_INCIDENT_TYPE[nature.key] if nature else "Police/Other",
                "incidentTypeInternalCode": call["nature_code"],
                "incidentTypeInternalText": nature.label if nature else call["nature_code"],
                "incidentStatusCommonRegistryText": ["Open"],
                "internalIncidentId": cid,
                "incidentPriorityInternalText": str(call.get("priority", 3)),
                "incidentCommonPriorityNumber": int(call.get("priority", 3)),
                "locationReference": [{"$ref": loc_id}],
                "personReference": person_refs,
                "notesReference": [{"$ref": n["$id"]} for n in notes]}
    if loc.get("sector"):
        incident["beatOrDispatchGroupText"] = loc["sector"]
    doc = {
        **_prologue(incident_id, at),
        "eidoVersion": "1.0",
        "issuingElementIdentification": f"cad.{agency}",
        "incidentComponent": incident,
        "callComponent": [{**_prologue(call_urn, at), "standardPrimaryCallType": "emergency", "direction": "incoming",
                           "priorityIdentifier": PRIORITY.get(int(call.get("priority", 3)), "normal"),
                           "localCallType": call.get("caller_relation", "inconnu"),
                           "callStartTimestamp": at, "answerDate": at, "callStateRegistryText": "callAnswered",
                           "locationReference": [{"$ref": loc_id}], "personReference": person_refs,
                           "agencyReference": [{"$ref": agency}]}],
        "agencyComponent": [{**_prologue(agency, at), "agencyRoleDescriptionRegistryText": ["CallReceiving", "Dispatch"],
                             "agencyType": ["police"], "incidentOwningAgencyIndicator": True}],
        "locationComponent": [{**_prologue(loc_id, at), "locationTypeDescriptionRegistryText": "Incident",
                               "locationByValue": _pidf(loc, city, agency), "locationDescriptionText": loc["address"]}],
        "@context": {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"},
    }
    if persons:
        doc["personComponent"] = persons
    if notes:
        doc["notesComponent"] = notes
    if cautions:
        doc["cautionComponent"] = cautions
    return doc


# --- validation against the standard ----------------------------------------------------------------
def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return _repair(yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


_COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")


def _repair(node):
    """The standard's AgentType says `minItems: 1,` (a stray comma makes it the string "1,", which no
    validator can compare): read such counts as the integer they spell. Nothing else is changed."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _COUNTS and isinstance(value, str) and value.strip(" ,").isdigit():
                node[key] = int(value.strip(" ,"))
            else:
                _repair(value)
    elif isinstance(node, list):
        for item in node:
            _repair(item)
    return node


@lru_cache(maxsize=1)
def eido_validator(standard_dir: Path = STANDARD_DIR) -> Draft202012Validator:
    """A JSON Schema validator for the EIDO type of the standard's OpenAPI document. NIEM files are loaded
    when a `$ref` first reaches them (paths normalised: the standard has a `NIEMComponents//j.yaml`)."""
    root = standard_dir.resolve()
    root_uri = (root / "openapi.yaml").as_uri()

    @lru_cache(maxsize=None)
    def retrieve(uri: str) -> Resource:
        path = Path(os.path.normpath(urlparse(uri).path))
        if root not in path.parents and path != root:
            raise LookupError(f"référence hors du standard EIDO: {uri}")
        return Resource.from_contents(_load(path), default_specification=DRAFT202012)

    registry = Registry(retrieve=lambda uri: retrieve(_normal_uri(uri)))
    schema = {"$ref": f"{root_uri}#/components/schemas/{EIDO_TYPE}"}
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_rfc3339)
    return Draft202012Validator(schema, registry=registry, format_checker=checker)


def _normal_uri(uri: str) -> str:
    parsed = urlparse(uri)
    return parsed._replace(path=os.path.normpath(parsed.path)).geturl()


def _rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        raise ValueError(f"{value!r} n'est pas une date-heure RFC 3339")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} n'a pas de fuseau horaire")
    return True


def eido_errors(doc: dict, limit: int = 10) -> list[str]:
    """What makes `doc` invalid against the standard ('' path = the document root); empty when valid."""
    out = []
    for err in eido_validator().iter_errors(doc):
        out.append(f"{'/'.join(str(p) for p in err.absolute_path) or '(racine)'}: {err.message}")
        if len(out) >= limit:
            break
    return out
