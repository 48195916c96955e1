"""HTTP entry points: the JSON figures, CSV exports and the monthly report (roles analyst, supervisor, admin).
The dashboard pages are in `pages.py`."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from dyade.auth import Principal, requires
from dyade.contracts import Role
from dyade.contracts.program import GRANDE_UTILISATRICE_CALLS, GRANDE_UTILISATRICE_DAYS
from dyade.contracts.vocabulary import SECTOR_CODE
from services.analytics.domain.calls import MENTAL_HEALTH
from services.analytics.adapters.figures import FigureBook, Params

READERS = (Role.ANALYST, Role.SUPERVISOR, Role.ADMIN)
reader = requires(*READERS)
SECTOR = re.compile(SECTOR_CODE)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def book(request: Request) -> FigureBook:
    return request.app.state.book


def _local_midnight(d: date | None, tz: ZoneInfo) -> datetime | None:
    return datetime.combine(d, time(0), tzinfo=tz) if d else None


def _parse(field: str, raw: str | None, kind):
    """An optional date or datetime from the query; an empty value (a blank form field) means none."""
    if raw is None or not raw.strip():
        return None
    try:
        return kind.fromisoformat(raw.strip())
    except ValueError:
        example = "2025-05-01" if kind is date else "2025-05-01T00:00:00-04:00"
        raise HTTPException(422, detail=f"{field}: date invalide ({raw[:40]!r}); attendu p. ex. {example}")


def params(request: Request,
           window_days: Annotated[int | None, Query(ge=30, le=730, description="Fenêtre avant/après la plus longue, "
                                                    "en jours (défaut ANALYTICS_WINDOW_DAYS, 180).")] = None,
           min_followup_days: Annotated[int | None, Query(ge=1, le=730, description="Suivi minimal (et historique "
                                                          "minimal avant le début) pour entrer dans la cohorte, en "
                                                          "jours (défaut ANALYTICS_MIN_FOLLOWUP_DAYS, 14).")] = None,
           as_of: Annotated[str | None, Query(description="Date de référence du suivi, ISO 8601 (défaut: dernier fait); "
                                              "sans décalage, heure de l'organisation.")] = None,
           sector: Annotated[str | None, Query(description="Secteur (S1, S2...).")] = None,
           start: Annotated[str | None, Query(alias="from", description="Début de période AAAA-MM-JJ (inclus, heure de l'organisation).")] = None,
           end: Annotated[str | None, Query(alias="to", description="Fin de période AAAA-MM-JJ (exclue, heure de l'organisation).")] = None,
           gu_threshold: Annotated[int, Query(ge=2, le=1000, description=f"Appels de crise minimum d'une grande utilisatrice ({GRANDE_UTILISATRICE_CALLS}, comme le triage).")] = GRANDE_UTILISATRICE_CALLS,
           gu_window_days: Annotated[int, Query(ge=7, le=730, description=f"Fenêtre des grandes utilisatrices (jours; {GRANDE_UTILISATRICE_DAYS} comme le triage).")] = GRANDE_UTILISATRICE_DAYS,
           ) -> Params:
    b: FigureBook = request.app.state.book
    tz = b.tz
    sector = sector.strip() if sector and sector.strip() else None
    if sector is not None and not SECTOR.match(sector):
        raise HTTPException(422, detail=f"sector: code de secteur invalide ({sector[:30]!r}); attendu par ex. S1")
    start_d, end_d = _parse("from", start, date), _parse("to", end, date)
    if start_d and end_d and start_d >= end_d:
        raise HTTPException(422, detail="from: la date de début doit précéder la date de fin (to)")
    as_of_dt = _parse("as_of", as_of, datetime)
    if as_of_dt is not None and as_of_dt.tzinfo is None:
        as_of_dt = as_of_dt.replace(tzinfo=tz)
    window = window_days if window_days is not None else b.config.window_days
    return Params(window_days=window, min_followup_days=min_followup_days, as_of=as_of_dt, sector=sector,
                  start=_local_midnight(start_d, tz), end=_local_midnight(end_d, tz), gu_threshold=gu_threshold,
                  gu_window_days=gu_window_days)


def _categories(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if raw in ("sante_mentale", "mental_health"):
        return MENTAL_HEALTH
    return tuple(c.strip() for c in raw.split(",") if c.strip()) or None


def _tz(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(422, detail=f"tz: fuseau horaire inconnu ({raw[:40]!r}), p. ex. America/Montreal")


P = Annotated[Params, Depends(params)]
B = Annotated[FigureBook, Depends(book)]
Who = Annotated[Principal, Depends(reader)]
router = APIRouter(prefix="/v1", tags=["indicateurs"])


def figure_route(figure: str, summary: str, answer: type = dict, name: str | None = None) -> None:
    """GET /v1/figures/<figure> (dashes for underscores): the FigureBook's `figure` under the common filters."""
    def route(b: B, p: P, _: Who):
        return getattr(b, figure)(p)
    router.add_api_route(f"/figures/{figure.replace('_', '-')}", route, methods=["GET"], name=name or figure,
                         summary=summary, response_model=answer)


figure_route("overview", "Vue d'ensemble: appels, alertes, décisions, références")
figure_route("repeat_calls", "Réduction des appels répétés (avant/après intervention)")
figure_route("grandes_utilisatrices", "Grandes utilisatrices et part des appels, par mois", list[dict])
figure_route("dyads", "Activité des dyades", name="dyad_activity")
figure_route("latency", "Délais de traitement (horloges de Dyade, appels en direct): réception → triage → alerte "
                        "livrée → prise en charge")
figure_route("dispositions", "Issues des appels; transports volontaires vs P-38")
figure_route("frames", "Fiches Info-social à jour vs périmées")
figure_route("referrals", "Références confirmées par source et critère, suggestions du triage à part; délai jusqu'au "
                          "premier contact")


@router.get("/figures/calls-by-week", summary="Appels par semaine et par catégorie")
def calls_by_week(b: B, p: P, _: Who,
                  categories: Annotated[str | None, Query(description="Liste séparée par des virgules, ou "
                                                          "`sante_mentale` (état mental perturbé + suicidaire).")] = None,
                  by: Annotated[str, Query(pattern="^(category|nature_code)$")] = "category",
                  tz: Annotated[str | None, Query(description="Fuseau des semaines (défaut: celui de "
                                                  "l'organisation, DYADE_TIMEZONE).")] = None) -> list[dict]:
    return b.calls_by_week(p, categories=_categories(categories), tz=_tz(tz) if tz else None, by=by)


@router.get("/figures/top-locations", summary="Lieux les plus récurrents")
def top_locations(b: B, p: P, _: Who, limit: Annotated[int, Query(ge=1, le=500)] = 20,
                  categories: Annotated[str | None, Query()] = None) -> list[dict]:
    return b.top_locations(p, limit=limit, categories=_categories(categories))


def _month(month: str) -> str:
    if not MONTH.match(month):
        raise HTTPException(422, detail=f"month: mois invalide ({month[:20]!r}); attendu AAAA-MM, p. ex. 2026-10")
    return month


@router.get("/reports/monthly", summary="Rapport mensuel (JSON); la version imprimable est /rapport")
def monthly_report(b: B, p: P, _: Who, month: Annotated[str, Query(description="AAAA-MM")]) -> dict:
    return b.monthly_report(_month(month), p)


EXPORTS = ("repeat-calls", "repeat-trend", "grandes-utilisatrices", "dyads", "latency", "dispositions",
           "calls-by-week", "top-locations", "referrals")


def export_rows(name: str, b: FigureBook, p: Params) -> list[dict]:
    """Flat rows for the CSV export of a figure. No person key ever leaves in an export."""
    if name == "repeat-calls":
        return b.repeat_calls(p)["distribution"]
    if name == "repeat-trend":
        return b.repeat_calls(p)["trend"]
    if name == "grandes-utilisatrices":
        return b.grandes_utilisatrices(p)
    if name == "dyads":
        return [{**{k: v for k, v in r.items() if k != "time_to_ack_s"},
                 **{f"time_to_ack_{k}_s": v for k, v in r["time_to_ack_s"].items()}} for r in b.dyads(p)["dyads"]]
    if name == "latency":
        return [{"stage": stage, "le": bucket["le"], "count": bucket["count"]}
                for stage, h in b.latency(p).items() for bucket in h["buckets"]]
    if name == "dispositions":
        return [{"month": r["month"], "disposition": d, "calls": n} for r in b.dispositions(p)["by_month"]
                for d, n in r["counts"].items()]
    if name == "calls-by-week":
        return [{"week": r["week"], "category": c, "calls": n} for r in b.calls_by_week(p) for c, n in r["counts"].items()]
    if name == "top-locations":
        return [{k: v for k, v in r.items() if k != "by_category"} for r in b.top_locations(p, limit=100)]
    if name == "referrals":
        f = b.referrals(p)
        return ([{"dimension": "source", "value": k, "referrals": v} for k, v in f["by_source"].items()]
                + [{"dimension": "criterion", "value": k, "referrals": v} for k, v in f["by_criterion"].items()]
                + [{"dimension": "triage_suggestion", "value": k, "referrals": v} for k, v in f["suggested"].items()])
    raise HTTPException(404, detail=f"export inconnu: {name[:40]!r} (disponibles: {', '.join(EXPORTS)})")


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


@router.get("/export/{name}.csv", summary="Export CSV d'un indicateur", response_class=Response)
def export_csv(name: str, b: B, p: P, _: Who) -> Response:
    body = to_csv(export_rows(name, b, p))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="dyade-{name}.csv"'})
