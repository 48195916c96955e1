"""`dyade analytics ...`: rebuild the analytics state from the topics, print figures."""
from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dyade.settings import get_settings

app = typer.Typer(help="Indicateurs du programme (analytics).", no_args_is_help=True)
console = Console(stderr=True)


def _sessions():
    from dyade.db import make_engine, make_sessionmaker
    return make_sessionmaker(make_engine(get_settings().db_url))


@app.command(help="Vide les tables d'analytics et rejoue les topics depuis le début (avec progression). "
                  "À faire après la migration analytics_0002: réécrit chaque instant en UTC (les bases SQLite "
                  "d'avant gardaient l'heure locale sans fuseau) et remplit les heures de traitement des délais.")
def rebuild(yes: bool = typer.Option(False, "--yes", "-y", help="Ne pas demander de confirmation.")) -> None:
    from dyade.kafka import BrokerUnreachable
    from services.analytics.adapters.rebuild import rebuild as run_rebuild
    settings = get_settings()
    if not settings.kafka_bootstrap_servers:
        _fail("KAFKA_BOOTSTRAP_SERVERS n'est pas défini: impossible de rejouer les topics.")
    if not yes and not typer.confirm("Vider les tables d'analytics et tout recalculer?"):
        raise typer.Exit(1)
    columns = (TextColumn("[bold]rejeu[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("événements"),
               TimeElapsedColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("rejeu", total=None)
            result = run_rebuild(settings.kafka_bootstrap_servers, _sessions(),
                                 on_progress=lambda done, total: progress.update(task, completed=done, total=total))
    except BrokerUnreachable as exc:
        _fail(str(exc))
    except Exception as exc:  # broker or database refused: say so plainly
        _fail(f"reconstruction interrompue: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    console.print(f"[green]reconstruction terminée[/]: {result.records} événements lus, {result.stored} retenus, "
                  f"{result.undecodable} illisibles ignorés, en {result.seconds:.1f} s")


@app.command(help="Affiche un indicateur en JSON (overview, repeat-calls, dyads, latency...).")
def figure(name: str = typer.Argument("overview"),
           window_days: int = typer.Option(None, help="Fenêtre avant/après la plus longue (défaut ANALYTICS_WINDOW_DAYS)."),
           min_followup_days: int = typer.Option(None, help="Suivi minimal (défaut ANALYTICS_MIN_FOLLOWUP_DAYS).")) -> None:
    from services.analytics.config import AnalyticsConfig, organisation_tz
    from services.analytics.adapters.figures import FigureBook, Params
    config = AnalyticsConfig()
    book = FigureBook(_sessions(), tz=organisation_tz(get_settings()), config=config)
    p = Params(window_days=window_days or config.window_days, min_followup_days=min_followup_days)
    methods = {"overview": book.overview, "repeat-calls": book.repeat_calls, "dyads": book.dyads,
               "latency": book.latency, "dispositions": book.dispositions, "frames": book.frames,
               "referrals": book.referrals, "grandes-utilisatrices": book.grandes_utilisatrices,
               "calls-by-week": book.calls_by_week, "top-locations": book.top_locations}
    if name not in methods:
        _fail(f"indicateur inconnu: {name} (disponibles: {', '.join(methods)})")
    print(json.dumps(methods[name](p), default=str, ensure_ascii=False, indent=2))


def _fail(message: str) -> None:
    console.print(f"[bold red]erreur:[/] {message}")
    raise typer.Exit(2)
