"""`dyade infosocial ...`: the daily sweep and the republication of current frames."""
from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console

app = typer.Typer(help="Fiches Info-social.", no_args_is_help=True)
console = Console(stderr=True)


def _runtime():
    from dyade.settings import get_settings
    from services.infosocial.runtime import Runtime
    return Runtime(get_settings())


@app.command(help="Revue quotidienne: événements « révision due » 30 jours avant la date, fiches en retard "
                  "marquées périmées, bases « danger imminent » échues retirées. Les événements partent par la "
                  "boîte d'envoi (relais du service).")
def sweep(at: str = typer.Option(None, help="Instant de la revue (ISO 8601 avec fuseau), défaut: maintenant."),
          frame: list[str] = typer.Option(None, help="Limiter à ces fiches."),
          notice_days: int = typer.Option(30, min=0, max=365, help="Jours d'avance des avis de révision.")) -> None:
    try:
        now = datetime.fromisoformat(at) if at else datetime.now().astimezone()
    except ValueError:
        console.print(f"[red]erreur:[/] --at invalide: {at!r} (ex. 2027-01-31T08:00:00-05:00)")
        raise typer.Exit(2)
    if now.tzinfo is None:
        console.print("[red]erreur:[/] --at doit porter un fuseau (ex. -05:00)")
        raise typer.Exit(2)
    rt = _runtime()
    try:
        counts = rt.frames.sweep(now, notice_days=notice_days, frame_ids=frame or None)
    finally:
        rt.engine.dispose()
    console.print(f"révisions dues signalées: {counts['review_due']}, fiches marquées périmées: {counts['stale']}, "
                  f"bases « danger imminent » échues: {counts['danger_lapsed']}")


@app.command(help="Republie la vue policière de chaque fiche active sur frames.current.v1 (broker vidé).")
def republish(only_if_empty: bool = typer.Option(False, help="Seulement si le topic est vide.")) -> None:
    from dyade.kafka import make_producer
    from services.infosocial.runtime import republish as do_republish, republish_if_empty
    rt = _runtime()
    bootstrap = rt.settings.kafka_bootstrap_servers
    if not bootstrap:
        console.print("[red]erreur:[/] KAFKA_BOOTSTRAP_SERVERS n'est pas défini")
        raise typer.Exit(2)
    try:
        if only_if_empty:
            n = republish_if_empty(rt.factory, bootstrap)
        else:
            producer = make_producer(bootstrap)
            n = do_republish(rt.factory, producer)
            producer.close()
    finally:
        rt.engine.dispose()
    console.print(f"{n} fiche(s) republiée(s)")
