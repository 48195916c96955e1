"""The frame form of the web page: one element per line. Marks at the start of a line, in any order:

- `[police]`: drawn from police interventions (source `police`); any other line is source `sante`;
- `[suicide]`: a suicide-related element (the social worker ticks it; the text is read for it too);
- `[divulgation: justification]`: the disclosure test is met for this suicide-related element, and why
  (a justification holds no `]`).

Contacts: `Nom ; rôle ; téléphone ; quand joindre`, with the same marks first.
The verdict of the 2024 basis: `verdict_kind`, `verdict_date`, `verdict_reference`."""
from __future__ import annotations

import re
from typing import Any

from services.infosocial.domain.visibility import FrameSnapshot

POLICE = "[police]"
SUICIDE = "[suicide]"
DISCLOSURE = "[divulgation:"
LIST_FIELDS = ("interventions_a_privilegier", "interventions_a_eviter", "risques")
ONE_FIELDS = ("particularites", "niveau_tolerance", "mode_liberation")
_MARK = re.compile(r"\s*\[(police|suicide|divulgation\s*:([^\]]*))\]\s*", re.IGNORECASE)


def _item(line: str) -> dict[str, Any]:
    """The element of one line, its marks read off the start."""
    out: dict[str, Any] = {"source": "sante"}
    rest = line.strip()
    while mark := _MARK.match(rest):
        word = mark.group(1).lower()
        if word == "police":
            out["source"] = "police"
        elif word == "suicide":
            out["suicide_related"] = True
        else:
            out["suicide_related"] = True
            out["disclosure"] = {"justification": mark.group(2).strip()}
        rest = rest[mark.end():]
    out["text"] = rest.strip()
    return out


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
        parts = [p.strip() for p in item.pop("text").split(";")]
        if len(parts) < 2:
            raise ValueError(f"contact « {ln.strip()} »: écrire au moins « Nom ; rôle »")
        contacts.append({"name": parts[0], "role": parts[1], "phone": (parts[2] if len(parts) > 2 else "") or None,
                         "when_to_call": "; ".join(parts[3:]) or None, **item})
    out["contacts"] = contacts
    for name in ("display_name", "pii_link", "reason", "review_due"):
        if (form.get(name) or "").strip():
            out[name] = form[name].strip()
    verdict = {k: (form.get(f"verdict_{k}") or "").strip() for k in ("kind", "date", "reference")}
    if any(verdict.values()):  # half a verdict is named by the validation (422), not dropped
        out["verdict"] = {k: v or None for k, v in verdict.items()}
    if "consent_status" not in form:  # the form of a new version: the frame keeps its consent
        return out
    consent: dict[str, Any] = {"status": form.get("consent_status") or "non_demande",
                               "scope": [s.strip() for s in form.get("consent_scope", "").split(",") if s.strip()]}
    for name in ("date", "legal_basis", "justification"):
        if (form.get(f"consent_{name}") or "").strip():
            consent[name] = form[f"consent_{name}"].strip()
    out["consent"] = consent
    return out


def _marks(element: dict) -> str:
    marks = [POLICE] if element.get("source") == "police" else []
    if element.get("disclosure"):
        marks.append(f"{DISCLOSURE} {element['disclosure']['justification']}]")
    elif element.get("suicide_related"):
        marks.append(SUICIDE)
    return "".join(m + " " for m in marks)


def _line(item: dict) -> str:
    return _marks(item) + item["text"]


def frame_form_values(snap: FrameSnapshot) -> dict[str, str]:
    """Prefill the form from the frame shown (to write its next version). Not the consent: a version does not
    change it (the form shows it, read-only)."""
    c = snap.content.model_dump(mode="json")
    verdict = c.get("verdict") or {}
    values = {"person_key": snap.person_key, "display_name": snap.display_name or "", "pii_link": c.get("pii_link") or "",
              "verdict_kind": verdict.get("kind") or "", "verdict_date": verdict.get("date") or "",
              "verdict_reference": verdict.get("reference") or ""}
    for name in LIST_FIELDS:
        values[name] = "\n".join(_line(i) for i in c[name])
    for name in ONE_FIELDS:
        values[name] = _line(c[name]) if c.get(name) else ""
    values["contacts"] = "\n".join(
        _marks(k) + " ; ".join([k["name"], k["role"], k.get("phone") or "", k.get("when_to_call") or ""]).rstrip(" ;")
        for k in c["contacts"])
    return values
