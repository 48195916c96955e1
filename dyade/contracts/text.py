"""Text that may enter Dyade: the string types every inbound body uses, and the check the events make.

PostgreSQL refuses NUL in text; control characters break logs, CSV exports and the terminals; a lone
surrogate cannot be encoded as UTF-8 (orjson refuses it); U+FFFE/U+FFFF are not characters. So, at the
edge (HTTP bodies, the raw topic, EIDO), before anything is stored:

- `Line` (names, codes, sector, address, ids, short labels): no control character at all — C0
  (tab and newlines included), DEL, C1 — no line or paragraph separator (U+2028/U+2029), no lone
  surrogate, no U+FFFE/U+FFFF;
- `Text` (narratives, notes, reasons): the same, except tab, line feed and carriage return.

`OptLine` and `OptText` are the same types for optional fields: write `first_name: OptLine =
Field(None, max_length=100)` rather than `Line | None` (with `Line | None`, pydantic checks the length
after the validator and says "Value should have at most 100 items"). The refusal is a 422 naming the
field, in French: « caractère de contrôle interdit (U+0000) à la position 3 » (positions count from 1,
in the text as received after trimming).

Events are checked once each, on their JSON (dyade.contracts.envelope): `json_may_hold_bad_text` is a
byte test that cannot miss, `find_bad_text` the exact check it calls for, naming the field's path.
"""
from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

__all__ = ["Line", "Text", "OptLine", "OptText", "line_problem", "text_problem", "check_line", "check_text",
           "check_surrogates", "find_bad_text", "json_may_hold_bad_text"]

# C0 except tab/LF/CR, DEL, C1, surrogates, the two non-characters at the end of the BMP
_TEXT_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# ... and tab, LF, CR, and the Unicode line/paragraph separators
_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")

_SURROGATE = re.compile("[\ud800-\udfff]")

ERROR_TYPE = "texte_interdit"


def _describe(char: str, index: int, *, line: bool) -> str:
    code = ord(char)
    where = f"(U+{code:04X}) à la position {index + 1}"
    if 0xD800 <= code <= 0xDFFF:
        return f"demi-caractère UTF-16 (surrogate) isolé interdit {where}"
    if code in (0xFFFE, 0xFFFF):
        return f"non-caractère Unicode interdit {where}"
    if code in (0x2028, 0x2029):
        return f"séparateur de ligne interdit {where} (une seule ligne attendue)"
    if line and char in "\t\n\r":
        return f"caractère de contrôle interdit {where} (une seule ligne attendue)"
    return f"caractère de contrôle interdit {where}"


def line_problem(value: str) -> str | None:
    """Why `value` is not acceptable as a single-line field, or None."""
    bad = _LINE_BAD.search(value)
    return None if bad is None else _describe(bad.group(), bad.start(), line=True)


def text_problem(value: str) -> str | None:
    """Why `value` is not acceptable as free text, or None."""
    bad = _TEXT_BAD.search(value)
    return None if bad is None else _describe(bad.group(), bad.start(), line=False)


def _refuse(problem: str) -> PydanticCustomError:
    return PydanticCustomError(ERROR_TYPE, "{problem}", {"problem": problem})


def check_surrogates(value: Any) -> Any:
    """Before pydantic reads the string (it refuses a lone surrogate itself, in English)."""
    if value.__class__ is str and (bad := _SURROGATE.search(value)) is not None:
        raise _refuse(_describe(bad.group(), bad.start(), line=False))
    return value


def check_line(value: Any) -> Any:
    if value.__class__ is str and _LINE_BAD.search(value):
        raise _refuse(line_problem(value))  # type: ignore[arg-type]
    return value


def check_text(value: Any) -> Any:
    if value.__class__ is str and _TEXT_BAD.search(value):
        raise _refuse(text_problem(value))  # type: ignore[arg-type]
    return value


def find_bad_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """(path, problem) of the first string in a JSON-like tree (dict keys included) that fails the
    free-text rule, or None. Paths look like `payload.persons.0.role`."""
    cls = value.__class__
    if cls is str:
        return (path or "(valeur)", text_problem(value)) if _TEXT_BAD.search(value) else None  # type: ignore[return-value]
    if cls is dict:
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            if k.__class__ is str and _TEXT_BAD.search(k):
                return where, "dans le nom du champ: " + text_problem(k)  # type: ignore[operator]
            if (bad := find_bad_text(v, where)) is not None:
                return bad
    elif cls is list or cls is tuple:
        for i, v in enumerate(value):
            if (bad := find_bad_text(v, f"{path}.{i}" if path else str(i))) is not None:
                return bad
    return None


_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")


def json_may_hold_bad_text(raw: bytes) -> bool:
    """False when JSON bytes certainly hold no string that fails the free-text rule. In JSON a control
    character or a surrogate can only be written escaped (`\\u0000`, `\\b`, `\\f`); DEL, C1 and
    U+FFFE/U+FFFF appear as their UTF-8 bytes. One-byte searches (memchr: ~0.5 µs for a 1 KB event), a
    longer test only when its first byte is there, and a walk over the escapes when there are any. True
    (rare: `\\u00e9` from an ASCII-only encoder, a non-BMP character) only means that the exact check
    (`find_bad_text`) must run."""
    if raw.find(b"\x7f") >= 0:
        return True
    i = raw.find(b"\\")
    while i >= 0:  # an escape \X (an escaped backslash, \\, is skipped whole)
        if raw[i + 1:i + 2] in (b"u", b"b", b"f"):
            return True
        i = raw.find(b"\\", i + 2)
    if raw.find(b"\xc2") >= 0 and _C1_UTF8.search(raw) is not None:
        return True
    return raw.find(b"\xef") >= 0 and (b"\xef\xbf\xbe" in raw or b"\xef\xbf\xbf" in raw)


Line = Annotated[str, BeforeValidator(check_surrogates), AfterValidator(check_line)]
Text = Annotated[str, BeforeValidator(check_surrogates), AfterValidator(check_text)]
OptLine = Annotated[str | None, BeforeValidator(check_surrogates), AfterValidator(check_line)]
OptText = Annotated[str | None, BeforeValidator(check_surrogates), AfterValidator(check_text)]
