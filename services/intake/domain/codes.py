"""The table that maps a dispatch system's call-type codes to Dyade's categories.

A table has a name, a code → category map, and a policy for codes it does not list: `reject` (the
call is refused with a 422 naming the code, the default) or a category (usually `autre`, for a
historical export where most codes are out of Dyade's scope).

It may also list codes to **skip**: administrative entries of the dispatch log that are not calls for
service (a traffic stop the officer initiated, a return to the station, a security check). They are not
accepted as calls at all — not even as `autre` — so they never count among the calls nor make a police
station the "most recurrent location"; a replay counts them as skipped, intake refuses them by name.

A table is plain data (`as_content()` / `from_content()`): the same content comes from a YAML file, from
the versioned store behind `PUT /v1/code-tables/{name}`, and goes back out on `GET`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dyade.contracts import CallCategory

MAX_CODES = 5000
MAX_CODE_LENGTH = 40


class UnknownCode(ValueError):
    def __init__(self, code: str, table: str, message: str | None = None):
        super().__init__(message or f"code de nature inconnu de la table {table!r}: {code!r}")
        self.code = code
        self.table = table


class SkippedCode(UnknownCode):
    """A code the table skips: an administrative entry of the dispatch log, not a call for service."""

    def __init__(self, code: str, table: str):
        super().__init__(code, table, f"code {code!r} écarté par la table {table!r} (code administratif, "
                                      f"pas un appel de service: liste `skip`)")


def normalise_code(code: str) -> str:
    return " ".join(code.split()).upper()


@dataclass(frozen=True)
class CodeTable:
    name: str
    codes: dict[str, CallCategory]
    unknown: CallCategory | None = None  # None: reject unknown codes
    labels: dict[str, str] = field(default_factory=dict)
    source_system: str = "cad"
    skip: frozenset[str] = frozenset()
    description: str = ""

    @classmethod
    def build(cls, name: str, codes: dict[str, str], unknown: str | None = None,
              labels: dict[str, str] | None = None, source_system: str = "cad", skip=(),
              description: str = "") -> "CodeTable":
        problems = []
        mapped: dict[str, CallCategory] = {}
        if len(codes) > MAX_CODES:
            problems.append(f"{len(codes)} codes: {MAX_CODES} au plus")
        for code, category in codes.items():
            key = normalise_code(str(code))
            if not key or len(key) > MAX_CODE_LENGTH:
                problems.append(f"{str(code)[:50]!r}: code vide ou de plus de {MAX_CODE_LENGTH} caractères")
                continue
            try:
                mapped[key] = CallCategory(category)
            except ValueError:
                problems.append(f"{code}: catégorie inconnue {category!r}")
        if isinstance(skip, str) or not all(isinstance(s, (str, int)) for s in skip or ()):
            problems.append("skip: une liste de codes est attendue")
            skipped: frozenset[str] = frozenset()
        else:
            skipped = frozenset(normalise_code(str(s)) for s in skip or () if normalise_code(str(s)))
        both = sorted(skipped & set(mapped))
        if both:
            problems.append(f"codes à la fois classés et écartés (skip): {', '.join(both[:10])}")
        fallback = None
        if unknown not in (None, "reject", "rejeter"):
            try:
                fallback = CallCategory(unknown)
            except ValueError:
                problems.append(f"unknown_code: {unknown!r} n'est ni 'reject' ni une catégorie")
        if problems:
            raise ValueError(f"table de codes {name!r} invalide — " + "; ".join(problems))
        return cls(name, mapped, fallback, {normalise_code(str(k)): str(v) for k, v in (labels or {}).items()},
                   source_system, skipped, description)

    def category_of(self, code: str) -> CallCategory:
        key = normalise_code(code)
        found = self.codes.get(key)
        if found is not None:
            return found
        if key in self.skip:
            raise SkippedCode(code, self.name)
        if self.unknown is not None:
            return self.unknown
        raise UnknownCode(code, self.name)

    def knows(self, code: str) -> bool:
        return normalise_code(code) in self.codes

    def skips(self, code: str) -> bool:
        return normalise_code(code) in self.skip

    # --- plain content (YAML file, versioned store, API) -------------------------------------------------
    def as_content(self) -> dict:
        return {"description": self.description, "source_system": self.source_system,
                "unknown_code": self.unknown.value if self.unknown else "reject",
                "codes": {c: cat.value for c, cat in sorted(self.codes.items())},
                "skip": sorted(self.skip), "labels": dict(sorted(self.labels.items()))}

    @classmethod
    def from_content(cls, name: str, content: dict) -> "CodeTable":
        return cls.build(name, dict(content.get("codes") or {}), content.get("unknown_code", "reject"),
                         content.get("labels") or {}, str(content.get("source_system") or "cad"),
                         content.get("skip") or (), str(content.get("description") or ""))
