"""`dyade notifier ...`: roster and alerts from the command line (the same database as the service)."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from dyade.clock import utcnow

app = typer.Typer(help="Alertes aux dyades: équipe, alertes, clé Web Push.", no_args_is_help=True)
console = Console()


def _sessions():
    from dyade.db import make_engine, make_sessionmaker, migrate
    from dyade.settings import Settings
    settings = Settings()
    migrate(settings.db_url)
    return settings, make_sessionmaker(make_engine(settings.db_url))


@app.command("dyade")
def put_dyad(dyad_id: str = typer.Argument(..., help="Identifiant, ex. D1"),
             sector: str = typer.Option(..., "--secteur", "--sector", help="Secteur, ex. S1"),
             name: str = typer.Option("", "--nom", help="Nom affiché"),
             start: str = typer.Option("08:00", "--debut", help="Début du quart (heure de Montréal)"),
             end: str = typer.Option("20:00", "--fin", help="Fin du quart")):
    """Créer ou modifier une dyade (7 jours sur 7, de --debut à --fin)."""

    from dyade.db import unit_of_work
    from services.notifier.domain.roster import parse_time
    from services.notifier.adapters.models import DyadRow
    for t in (start, end):
        try:
            parse_time(t)
        except ValueError:
            raise typer.BadParameter(f"heure invalide: {t!r} (HH:MM)")
    _, sessions = _sessions()
    with unit_of_work(sessions) as s:
        row = s.get(DyadRow, dyad_id) or DyadRow(dyad_id=dyad_id, members=[])
        row.name, row.sector, row.active = name or f"Dyade {dyad_id}", sector, True
        row.shifts = [{"days": list(range(7)), "start": start, "end": end}]
        row.updated_at = utcnow()
        s.merge(row)
    console.print(f"dyade {dyad_id}: secteur {sector}, {start}–{end} tous les jours")


@app.command("alertes")
def list_alerts(all_: bool = typer.Option(False, "--toutes", help="Inclure les alertes fermées")):
    """Les alertes ouvertes (ou toutes), les plus récentes d'abord."""
    from sqlalchemy import select

    from services.notifier.domain.lifecycle import LABELS, OPEN
    from services.notifier.adapters.models import AlertRow
    from dyade.contracts.vocabulary import AlertState
    _, sessions = _sessions()
    table = Table("alerte", "type", "état", "dyade / cible", "secteur", "niveau", "appel")
    with sessions() as s:
        q = select(AlertRow).order_by(AlertRow.created_at.desc()).limit(100)
        if not all_:
            q = q.where(AlertRow.state.in_([x.value for x in OPEN]))
        for a in s.scalars(q):
            table.add_row(a.alert_id, a.kind, LABELS[AlertState(a.state)], a.dyad_id or a.target or "—",
                          a.sector or "—", a.level or "—", a.call_id or "—")
    console.print(table)


@app.command("cle-push")
def vapid_key():
    """La clé publique VAPID du service (applicationServerKey des appareils)."""
    from dyade.settings import Settings
    from services.notifier.adapters.delivery import application_server_key, load_vapid
    print(application_server_key(load_vapid(Settings().dyade_home)))
