"""The table that maps a dispatch system's call-type codes to Dyade's categories.

A table has a name, a code → category map, and a policy for codes it does not list: `reject` (the
call is refused with a 422 naming the code, the default) or a category (usually `autre`, for a
historical export where most codes are out of Dyade's scope).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dyade.contracts import CallCategory


class UnknownCode(ValueError):
    def __init__(self, code: str, table: str):
        super().__init__(f"code de nature inconnu de la table {table!r}: {code!r}")
        self.code = code
        self.table = table


def normalise_code(code: str) -> str:
    return " ".join(code.split()).upper()


@dataclass(frozen=True)
class CodeTable:
    name: str
    codes: dict[str, CallCategory]
    unknown: CallCategory | None = None  # None: reject unknown codes
    labels: dict[str, str] = field(default_factory=dict)
    source_system: str = "cad"

    @classmethod
    def build(cls, name: str, codes: dict[str, str], unknown: str | None = None,
              labels: dict[str, str] | None = None, source_system: str = "cad") -> "CodeTable":
        problems = []
        mapped: dict[str, CallCategory] = {}
        for code, category in codes.items():
            try:
                mapped[normalise_code(str(code))] = CallCategory(category)
            except ValueError:
                problems.append(f"{code}: catégorie inconnue {category!r}")
        fallback = None
        if unknown not in (None, "reject", "rejeter"):
            try:
                fallback = CallCategory(unknown)
            except ValueError:
                problems.append(f"unknown_code: {unknown!r} n'est ni 'reject' ni une catégorie")
        if problems:
            raise ValueError(f"table de codes {name!r} invalide — " + "; ".join(problems))
        return cls(name, mapped, fallback, {normalise_code(str(k)): v for k, v in (labels or {}).items()},
                   source_system)

    def category_of(self, code: str) -> CallCategory:
        found = self.codes.get(normalise_code(code))
        if found is not None:
            return found
        if self.unknown is not None:
            return self.unknown
        raise UnknownCode(code, self.name)

    def knows(self, code: str) -> bool:
        return normalise_code(code) in self.codes
