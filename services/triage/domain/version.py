"""The rule-set version: derived from everything that decides, so that a decision names exactly what produced
it, and any change to it gives new decision ids (a consumer that drops duplicates by id, the notifier, must
not drop a changed decision as the old one).

What is hashed, and why each:

- the thresholds (`RulesetConfig`, from YAML/env): the tunable part;
- a declared table of the weights and word lists the code reads at run time — every danger rule's id,
  weight, imminence, officer-safety and aggravating-only marks, label and source (`rules.RULES`), the weight
  of every other reason (`decide.REASON_WEIGHTS`), the crisis categories, high-risk dispositions and flags,
  the windows and the day's time zone. Hashed from the live objects, so a weight changed in memory (a test,
  a patched deployment) changes the version too;
- the code of the modules that decide (`DECIDING_MODULES`: rules, level logic, criteria, admissibility,
  recurrence, the state "as of" a time, subject choice), as an abstract syntax tree with comments, formatting
  and docstrings removed (`ast.unparse`): a changed condition or level rule changes the version, a reworded
  comment or a re-indented line does not. Computed once per process from the source files.

A cosmetic change still gives new ids when it changes the code's meaning-bearing text (renaming a variable
does); that is the price of not having to remember to bump a number. The labels of the read API
(`labels.py`) and the edges (`facts.py`, `events.py`, `records.py`, `upcast.py`) do not decide and are
not hashed.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import json
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.triage.domain.config import RulesetConfig

BASE = "triage-r2"  # r1 hashed the thresholds only
DECIDING_MODULES = ("config", "recurrence", "routing", "rules", "state", "place", "decide", "admissibility")
_PACKAGE = "services.triage.domain"


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def normalised_source(text: str) -> str:
    """The code of a module as the version sees it: no comments, docstrings or formatting."""
    return ast.unparse(_without_docstrings(ast.parse(text)))


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the deciding modules' code (comments, formatting and docstrings left out)."""
    h = hashlib.sha256()
    for name in DECIDING_MODULES:
        path = Path(importlib.import_module(f"{_PACKAGE}.{name}").__file__)
        h.update(name.encode() + b"\0" + normalised_source(path.read_text(encoding="utf-8")).encode() + b"\0")
    return h.hexdigest()


def weights_table() -> dict:
    """Every weight and word list the decision reads at run time (from the live objects)."""
    from services.triage.domain import decide, recurrence, rules, state
    from services.triage.domain.config import WINDOWS_DAYS
    return {
        "danger_rules": [[r.id, r.weight, r.imminent, r.officer_safety, r.aggravating_only, r.label, r.source]
                         for r in rules.RULES],
        "reason_weights": dict(sorted(decide.REASON_WEIGHTS.items())),
        "crisis_categories": sorted(state.CRISIS),
        "high_risk_dispositions": sorted(state.HIGH_RISK_DISPOSITIONS),
        "high_risk_flags": sorted(state.HIGH_RISK_FLAGS),
        "windows_days": list(WINDOWS_DAYS),
        "year_days": recurrence.YEAR_DAYS,
        "day_zone": str(recurrence.ZONE),
    }


def ruleset_version(cfg: "RulesetConfig") -> str:
    material = json.dumps({"thresholds": asdict(cfg), "weights": weights_table(), "code": code_digest()},
                          sort_keys=True, ensure_ascii=False)
    return f"{BASE}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"
