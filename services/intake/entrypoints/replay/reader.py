"""Reading a dispatch system's export (CSV or JSON lines) through a column and code mapping, into the
call submissions intake accepts. Stray lines are reported with a reason and skipped, never a crash.

    mapping = load_mapping("services/intake/mappings/berkeley.yaml")
    for row in read_export(["dyade/data/berkeley-2014/daily"], mapping):
        if isinstance(row, AcceptedRow): row.submission, row.category
        else: row.kind, row.reason, row.source

Event times are kept as the source gave them (local time of the mapping's time zone, made aware). Codes
the mapping lists under `skip` (administrative entries: traffic stops, returns to the station) are not
calls: their rows are skipped, counted as `code_ecarte`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from dyade.contracts import CallCategory
from dyade.contracts.envelope import describe_validation_error
from dyade.contracts.inbound import CallSubmission
from services.intake.adapters.code_tables import MappingError, read_yaml, table_from
from services.intake.domain.codes import CodeTable, SkippedCode, UnknownCode
from services.intake.domain.locations import clean, is_unknown

REQUIRED = ("received_at", "nature_code", "address")
OPTIONAL = ("call_id", "priority", "sector", "lat", "lon", "narrative")
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9._:\-]+")

__all__ = ["ReplayMapping", "SectorRule", "AcceptedRow", "SkippedRow", "load_mapping", "read_export", "export_files"]


@dataclass(frozen=True)
class SectorRule:
    sector: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.lat_min <= lat < self.lat_max and self.lon_min <= lon < self.lon_max


@dataclass(frozen=True)
class ReplayMapping:
    name: str
    path: Path
    table: CodeTable
    columns: dict[str, tuple[str, ...]]
    datetime_format: str
    timezone: ZoneInfo
    format: str = "csv"
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    call_id_prefix: str = ""
    missing_call_id: str = "skip"
    priority: int = 3
    default_sector: str | None = None
    sectors: tuple[SectorRule, ...] = ()
    geocodes_file: str | None = None
    geocodes: dict[str, tuple[float, float]] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class AcceptedRow:
    source: str  # file:line
    submission: CallSubmission
    category: CallCategory


@dataclass(frozen=True)
class SkippedRow:
    source: str
    kind: str  # short reason code, for counting
    reason: str  # what exactly was wrong


def _columns(raw, origin: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise MappingError(f"{origin}: `columns` doit associer chaque champ à un ou plusieurs noms de colonne")
    cols = {}
    for key, names in raw.items():
        if key not in REQUIRED + OPTIONAL:
            raise MappingError(f"{origin}: colonne inconnue `{key}` (connues: {', '.join(REQUIRED + OPTIONAL)})")
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
            raise MappingError(f"{origin}: columns.{key} doit être un nom ou une liste de noms")
        cols[key] = tuple(names)
    missing = [k for k in REQUIRED if k not in cols]
    if missing:
        raise MappingError(f"{origin}: colonnes requises absentes du mapping: {', '.join(missing)}")
    return cols


def load_mapping(path: str | Path) -> ReplayMapping:
    path = Path(path)
    data = read_yaml(path)
    origin = str(path)
    table = table_from(data, origin)
    try:
        tz = ZoneInfo(str(data.get("timezone") or "America/Montreal"))
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{origin}: fuseau horaire inconnu {data.get('timezone')!r}") from None
    try:
        sectors = tuple(SectorRule(**r) for r in (data.get("sectors") or []))
    except TypeError as exc:
        raise MappingError(f"{origin}: règle de secteur invalide ({exc})") from None
    missing_id = data.get("missing_call_id", "skip")
    if missing_id not in ("skip", "derive"):
        raise MappingError(f"{origin}: missing_call_id doit valoir skip ou derive")
    fmt = data.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise MappingError(f"{origin}: format doit valoir csv ou jsonl")
    if "call_id" not in (data.get("columns") or {}) and missing_id != "derive":
        raise MappingError(f"{origin}: sans colonne call_id, missing_call_id doit valoir derive")
    return ReplayMapping(
        name=table.name, path=path, table=table, columns=_columns(data.get("columns"), origin),
        datetime_format=str(data.get("datetime_format") or "%Y-%m-%dT%H:%M:%S%z"), timezone=tz, format=fmt,
        delimiter=str(data.get("delimiter") or ","), encoding=str(data.get("encoding") or "utf-8-sig"),
        call_id_prefix=str(data.get("call_id_prefix") or ""), missing_call_id=missing_id,
        priority=int(data.get("priority") or 3), default_sector=data.get("default_sector"), sectors=sectors,
        geocodes_file=data.get("geocodes"))


def export_files(paths: Iterable[str | Path], fmt: str = "csv") -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in (".csv", ".jsonl", ".json", ".ndjson"))
        else:
            files.append(p)
    return files


def load_geocodes(mapping: ReplayMapping, files: list[Path]) -> dict[str, tuple[float, float]]:
    if not mapping.geocodes_file:
        return {}
    candidates = []
    for f in files[:1]:
        candidates += [f.parent / mapping.geocodes_file, f.parent.parent / mapping.geocodes_file,
                       f.parent.parent.parent / mapping.geocodes_file]
    candidates.append(mapping.path.parent / mapping.geocodes_file)
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        return {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(found.read_text(encoding="utf-8"), Loader=loader) or {}
    out = {}
    for address, geo in data.items():
        try:
            out[clean(str(address)).upper()] = (float(geo["latitude"]), float(geo["longitude"]))
        except (TypeError, KeyError, ValueError):
            continue
    return out


class _Row:
    def __init__(self, mapping: ReplayMapping, header: list[str]):
        self.mapping = mapping
        self.index: dict[str, str] = {}
        present = {h.strip(): h for h in header if h}
        for key, names in mapping.columns.items():
            for name in names:
                if name in present:
                    self.index[key] = present[name]
                    break
        self.missing = [k for k in REQUIRED if k not in self.index]

    def get(self, row: dict, key: str) -> str | None:
        col = self.index.get(key)
        value = row.get(col) if col else None
        if value is None:
            return None
        value = str(value).strip()
        return value or None


def _derive_id(mapping: ReplayMapping, when: str, code: str, address: str) -> str:
    digest = hashlib.sha1(f"{when}|{code}|{address}".encode()).hexdigest()[:16]
    return f"{mapping.call_id_prefix}X{digest}"


def _sector(mapping: ReplayMapping, lat: float | None, lon: float | None) -> str | None:
    if lat is not None and lon is not None:
        for rule in mapping.sectors:
            if rule.contains(lat, lon):
                return rule.sector
    return mapping.default_sector


def _convert(mapping: ReplayMapping, cols: _Row, row: dict, source: str) -> AcceptedRow | SkippedRow:
    values = {k: cols.get(row, k) for k in REQUIRED + OPTIONAL}
    if not any(v for v in row.values() if isinstance(v, str) and v.strip()):
        return SkippedRow(source, "ligne_vide", "ligne vide")
    when, code, address = values["received_at"], values["nature_code"], values["address"]
    if not when:
        return SkippedRow(source, "date_absente", "date et heure absentes")
    try:
        received = datetime.strptime(when, mapping.datetime_format)
    except ValueError:
        return SkippedRow(source, "date_invalide", f"date invalide {when[:40]!r} (format {mapping.datetime_format})")
    if received.tzinfo is None:
        received = received.replace(tzinfo=mapping.timezone)
    if not code:
        return SkippedRow(source, "code_absent", "code de nature absent")
    if is_unknown(address):
        return SkippedRow(source, "adresse_inconnue", f"adresse vide ou inconnue ({(address or '')[:40]!r})")
    try:
        category = mapping.table.category_of(code)
    except SkippedCode as exc:  # an administrative entry (traffic stop, return to station): not a call
        return SkippedRow(source, "code_ecarte", str(exc))
    except UnknownCode as exc:
        return SkippedRow(source, "code_inconnu", str(exc))
    raw_id = values["call_id"]
    if raw_id:
        call_id = mapping.call_id_prefix + _BAD_ID_CHARS.sub("-", raw_id)
    elif mapping.missing_call_id == "derive":
        call_id = _derive_id(mapping, when, code, clean(address))
    else:
        return SkippedRow(source, "identifiant_absent", "identifiant d'appel absent")
    lat = lon = None
    try:
        if values["lat"] and values["lon"]:
            lat, lon = float(values["lat"]), float(values["lon"])
    except ValueError:
        return SkippedRow(source, "coordonnees_invalides", f"coordonnées invalides {values['lat']!r}, {values['lon']!r}")
    if lat is None and mapping.geocodes:
        lat, lon = mapping.geocodes.get(clean(address).upper(), (None, None))
    try:
        sub = CallSubmission.model_validate({
            "call_id": call_id[:64], "received_at": received, "nature_code": code,
            "priority": values["priority"] or mapping.priority,
            "location": {"address": clean(address)[:200], "sector": values["sector"] or _sector(mapping, lat, lon),
                         "lat": lat, "lon": lon},
            "narrative": values["narrative"]})
    except ValidationError as exc:
        return SkippedRow(source, "invalide", describe_validation_error(exc))
    return AcceptedRow(source, sub, category)


def _records(path: Path, mapping: ReplayMapping) -> Iterator[tuple[int, list[str] | None, dict | str]]:
    """(line number, header or None, row) — a str row is an unreadable line (its reason)."""
    if mapping.format == "jsonl":
        with path.open(encoding=mapping.encoding, errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, None, f"JSON invalide: {exc.msg}"
                    continue
                yield n, (list(obj) if isinstance(obj, dict) else None), obj if isinstance(obj, dict) else \
                    "un objet JSON est attendu"
        return
    wanted = [set(mapping.columns[k]) for k in REQUIRED]
    with path.open(encoding=mapping.encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=mapping.delimiter)
        header: list[str] | None = None
        try:
            for cells in reader:
                if header is None:  # the header is the first line naming every required column
                    names = {c.strip() for c in cells}
                    if all(names & w for w in wanted):
                        header = [c.strip() for c in cells]
                    elif any(c.strip() for c in cells):
                        yield reader.line_num, None, "ligne avant l'en-tête"
                    continue
                yield reader.line_num, header, dict(zip(header, cells))
        except csv.Error as exc:
            yield reader.line_num, header, f"CSV illisible: {exc}"
        if header is None:
            yield reader.line_num, [], {}


def read_export(paths: Iterable[str | Path], mapping: ReplayMapping) -> Iterator[AcceptedRow | SkippedRow]:
    files = export_files(paths, mapping.format)
    if mapping.geocodes_file and not mapping.geocodes:
        object.__setattr__(mapping, "geocodes", load_geocodes(mapping, files))
    for path in files:
        if not path.is_file():
            yield SkippedRow(str(path), "fichier_absent", "fichier introuvable")
            continue
        cols_by_header: dict[tuple, _Row] = {}
        for n, header, row in _records(path, mapping):
            source = f"{path.name}:{n}"
            if isinstance(row, str):
                yield SkippedRow(source, "ligne_illisible", row)
                continue
            key = tuple(header or ())
            cols = cols_by_header.get(key) or cols_by_header.setdefault(key, _Row(mapping, header or []))
            if cols.missing:
                yield SkippedRow(source, "colonnes_absentes", "colonnes absentes: " + ", ".join(
                    f"{k} ({' / '.join(mapping.columns[k])})" for k in cols.missing))
                continue
            yield _convert(mapping, cols, row, source)
