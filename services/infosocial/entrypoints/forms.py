"""The frame form of the web page: one element per line; a line starting with `[police]` is an element
drawn from police interventions (source `police`), any other line is source `sante`.
Contacts: `Nom ; rôle ; téléphone ; quand joindre`."""
from __future__ import annotations

from typing import Any

from services.infosocial.domain.visibility import FrameSnapshot

POLICE = "[police]"
LIST_FIELDS = ("interventions_a_privilegier", "interventions_a_eviter", "risques")
ONE_FIELDS = ("particularites", "niveau_tolerance", "mode_liberation")


def _item(line: str) -> dict[str, str]:
    line = line.strip()
    if line.lower().startswith(POLICE):
        return {"text": line[len(POLICE):].strip(), "source": "police"}
    return {"text": line, "source": "sante"}


def _lines(text: str) -> list[str]:
    return [ln for ln in (text or "").splitlines() if ln.strip()]


def parse_frame_form(form: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"person_key": form.get("person_key", "").strip()}
    for name in LIST_FIELDS:
        out[name] = [_item(ln) for ln in _lines(form.get(name, ""))]
    for name in ONE_FIELDS:
        text = (form.get(name) or "").strip()
        out[name] = _item(text) if text else None
    contacts = []
    for ln in _lines(form.get("contacts", "")):
        item = _item(ln)
        parts = [p.strip() for p in item["text"].split(";")]
        if len(parts) < 2:
            raise ValueError(f"contact « {ln.strip()} »: écrire au moins « Nom ; rôle »")
        contacts.append({"name": parts[0], "role": parts[1], "phone": (parts[2] if len(parts) > 2 else "") or None,
                         "when_to_call": "; ".join(parts[3:]) or None, "source": item["source"]})
    out["contacts"] = contacts
    for name in ("display_name", "pii_link", "reason", "review_due"):
        if (form.get(name) or "").strip():
            out[name] = form[name].strip()
    consent: dict[str, Any] = {"status": form.get("consent_status") or "non_demande",
                               "scope": [s.strip() for s in form.get("consent_scope", "").split(",") if s.strip()]}
    for name in ("date", "legal_basis", "justification"):
        if (form.get(f"consent_{name}") or "").strip():
            consent[name] = form[f"consent_{name}"].strip()
    out["consent"] = consent
    return out


def _line(item: dict) -> str:
    return (POLICE + " " if item.get("source") == "police" else "") + item["text"]


def frame_form_values(snap: FrameSnapshot) -> dict[str, str]:
    """Prefill the form from the frame shown (to write its next version)."""
    c = snap.content.model_dump(mode="json")
    values = {"person_key": snap.person_key, "display_name": snap.display_name or "", "pii_link": c.get("pii_link") or "",
              "consent_status": snap.consent.status.value, "consent_scope": ", ".join(snap.consent.scope),
              "consent_date": snap.consent.date.isoformat() if snap.consent.date else "",
              "consent_legal_basis": snap.consent.legal_basis or "",
              "consent_justification": snap.consent.justification or ""}
    for name in LIST_FIELDS:
        values[name] = "\n".join(_line(i) for i in c[name])
    for name in ONE_FIELDS:
        values[name] = _line(c[name]) if c.get(name) else ""
    values["contacts"] = "\n".join(
        (POLICE + " " if k["source"] == "police" else "") + " ; ".join(
            [k["name"], k["role"], k.get("phone") or "", k.get("when_to_call") or ""]).rstrip(" ;")
        for k in c["contacts"])
    return values
