"""`dyade simulate` (a synthetic city's calls, to a file, intake or the raw topic) and `dyade demo` (the
live demonstration `dyade up` starts)."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dyade.settings import get_settings

console = Console(stderr=True)


class Target(str, Enum):
    file = "file"
    http = "http"
    kafka = "kafka"


class ProfileName(str, Enum):
    demo = "demo"
    terrebonne = "terrebonne"
    montreal = "montreal"


def simulate(
    profile: ProfileName = typer.Option(ProfileName.terrebonne, help="Taille de la ville: demo (≈ 20 000 appels/an), "
                                        "terrebonne (≈ 70 000), montreal (≈ 1 000 000)."),
    seed: int = typer.Option(42, help="Graine: la même graine donne exactement le même flux."),
    days: int = typer.Option(180, min=1, max=3650, help="Durée simulée, en jours."),
    start: str = typer.Option(None, help="Premier jour (AAAA-MM-JJ); défaut: aujourd'hui moins --days."),
    calls_per_year: int = typer.Option(None, min=1, help="Remplace le volume annuel d'appels du profil."),
    limit: int = typer.Option(None, min=1, help="Arrêter après ce nombre d'appels."),
    to: Target = typer.Option(Target.file, help="file (JSONL/CSV pour `dyade replay`), http (intake) ou kafka "
                              "(topic brut calls.raw.v1)."),
    out: Path = typer.Option(Path("var/simulation/calls.jsonl"), help="Fichier des appels (.jsonl ou .csv); les "
                             "mises à jour, références, EIDO et la vérité terrain sont écrits à côté."),
    speed: float = typer.Option(0.0, min=0.0, help="0: aussi vite que possible; 1: temps réel; 60: ×60."),
    eido_share: float = typer.Option(None, min=0.0, max=1.0, help="Part des appels aussi produits en NENA EIDO "
                                     "(défaut: 0.05 en fichier, 0 vers intake; vers intake ils passent par /v1/eido)."),
    intervention_share: float = typer.Option(0.6, min=0.0, max=1.0, help="Part des grands utilisateurs qui "
                                             "reçoivent une fiche ou un suivi de dyade."),
    effect_share: float = typer.Option(0.7, min=0.0, max=1.0, help="Part de ceux-ci qui appellent moins ensuite."),
    reduction: float = typer.Option(0.6, min=0.0, max=1.0, help="Baisse de leur taux d'appels (0.6 = −60 %)."),
    updates: bool = typer.Option(True, "--updates/--no-updates", help="Produire les mises à jour d'appels."),
    referrals: bool = typer.Option(True, "--referrals/--no-referrals", help="Produire les références sociales."),
    truth: Path = typer.Option(None, help="Vérité terrain (JSON); défaut: à côté du fichier, ou sous DYADE_HOME."),
    batch: int = typer.Option(200, min=1, max=1000, help="Appels par lot vers intake (POST /v1/calls:batch) "
                              "quand --speed 0."),
    prefix: str = typer.Option("SIM", help="Préfixe des identifiants d'appel."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Barre de progression."),
) -> None:
    """Génère les appels d'une ville québécoise simulée (graine reproductible) et sa vérité terrain."""
    from dyade.simulation.outputs import FileSink, KafkaSink
    from dyade.simulation.profiles import PROFILES
    from dyade.simulation.run import simulate as run
    from dyade.simulation.simulation import Knobs

    settings = get_settings()
    try:
        first = date.fromisoformat(start) if start else datetime.now().date() - timedelta(days=days)
    except ValueError:
        _fail(f"--start: date invalide {start!r} (attendu AAAA-MM-JJ)")
    city = PROFILES[profile.value]
    if calls_per_year:
        city = city.scaled(calls_per_year)
    if not all(c.isalnum() or c in "._-" for c in prefix) or len(prefix) > 20:
        _fail("--prefix: lettres, chiffres, . _ - seulement (20 au plus)")
    knobs = Knobs(city, seed=seed, start=first, days=days, intervention_share=intervention_share,
                  effect_share=effect_share, reduction=reduction, limit=limit, prefix=prefix)
    if to == Target.file:
        if out.suffix.lower() not in (".jsonl", ".csv"):
            _fail(f"--out: extension .jsonl ou .csv attendue, reçu {out.name!r}")
        sink = FileSink(out, eido_share=0.05 if eido_share is None else eido_share, city=city.name, updates=updates)
        truth_path = truth or Path(f"{out.with_suffix('')}.truth.json")
    elif to == Target.kafka:
        from dyade.kafka import BrokerUnreachable
        if not settings.kafka_bootstrap_servers:
            _fail("KAFKA_BOOTSTRAP_SERVERS n'est pas défini (le broker embarqué ne vit que pendant `dyade up`).")
        try:
            sink = KafkaSink(settings.kafka_bootstrap_servers)
        except BrokerUnreachable as exc:
            _fail(str(exc))
        truth_path = truth or settings.dyade_home / "simulation" / f"truth-{prefix}-{seed}.json"
    else:
        sink = _http_sink(settings, batch=1 if speed > 0 else batch, eido_share=eido_share or 0.0, city=city.name)
        truth_path = truth or settings.dyade_home / "simulation" / f"truth-{prefix}-{seed}.json"
    from dyade.simulation.intake_client import Unavailable
    try:
        result = run(knobs, sink, speed=speed, updates=updates, referrals=referrals, truth_path=truth_path,
                     progress=progress, console=console)
    except Unavailable as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        console.print("[yellow]interrompu[/]")
        raise typer.Exit(130)
    _summary(result, sink, to)


def _http_sink(settings, *, batch: int, eido_share: float, city: str):
    from dyade.auth import issue_token, max_token_hours
    from dyade.simulation.intake_client import HttpSink, ServiceClient
    secret = settings.secret("dyade_token_secret")

    def token_for(role: str, subject: str) -> str:  # one per request: short lives are no trouble
        hours = min(24, max_token_hours(role, settings))
        return issue_token(secret, subject=subject, role=role, ttl_s=hours * 3600,
                           max_ttl_s=max_token_hours(role, settings) * 3600)
    client = ServiceClient(settings.url_of("intake"), token_for, attempts=8, name="intake")
    return HttpSink(client, batch=batch, eido_share=eido_share, city=city)


def _summary(result, sink, to: Target) -> None:
    s, c = result.truth["stream"], result.counts
    table = Table("", "valeur", title="Simulation terminée")
    table.add_row("appels générés", f"{s['calls']:,}".replace(",", " "))
    table.add_row("appels envoyés" if to != Target.file else "appels écrits", f"{c.calls:,}".replace(",", " "))
    table.add_row("appels de crise", f"{s['crisis_calls']:,}".replace(",", " "))
    table.add_row("mises à jour / références", f"{c.updates} / {c.referrals}")
    if c.eido:
        table.add_row("documents EIDO", str(c.eido))
    if c.rejected:
        table.add_row("[red]refus[/]", str(c.rejected))
    co = result.truth["cohort"]
    table.add_row("grands utilisateurs (dont avec intervention)", f"{co['high_utilisers']} ({co['with_intervention']})")
    table.add_row("baisse attendue / observée (personnes suivies)",
                  f"{co['expected_reduction_of_intervened']:.0%} / "
                  f"{(co['observed_reduction_of_intervened'] or 0):.0%}")
    for name, path in getattr(sink, "paths", {}).items():
        table.add_row(f"fichier: {name}", str(path))
    if result.truth_path:
        table.add_row("vérité terrain", str(result.truth_path))
    Console().print(table)
    for reason, n in list(c.reasons.items())[:5]:
        console.print(f"[red]refus ×{n}:[/] {reason}")


def demo(
    speed: float = typer.Option(720.0, min=1.0, max=100_000, help="L'horloge de la ville va N fois plus vite que "
                                "l'horloge murale, jusqu'à la rattraper (720: une journée en 2 minutes; 4000: un "
                                "trimestre en 33 minutes); 1: temps réel."),
    days: float = typer.Option(91.0, min=0.0, max=365, help="Jours de programme joués en accéléré avant que "
                               "l'horloge de la ville rattrape l'horloge murale (défaut: un trimestre)."),
    seed: int = typer.Option(7, help="Graine de la ville de démonstration."),
    history_days: int = typer.Option(30, min=0, max=365, help="Jours d'historique rejoués au démarrage."),
    frames: int = typer.Option(3, min=0, max=20, help="Fiches Info-social créées pour les grands utilisateurs."),
    field_team: bool = typer.Option(True, "--dyades/--sans-dyades", help="Les dyades de la démo prennent leurs "
                                    "alertes, vont sur les lieux et ferment avec une disposition (sinon: à vous)."),
    rate: float = typer.Option(None, hidden=True, help="Ancienne option (appels par seconde): donne la vitesse."),
) -> None:
    """Démo en direct: roster de dyades, historique, fiches, puis la ville au rythme de son horloge."""
    from dyade.simulation.clock import service_env
    from dyade.simulation.demo import Demo, DemoOptions
    from dyade.simulation.profiles import PROFILES
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if rate:  # calls per second → the speed that gives them
        speed = max(1.0, rate / (PROFILES["demo"].calls_per_year / (365 * 86400)))
    settings = get_settings()
    settings.dyade_home.mkdir(parents=True, exist_ok=True)
    missing = {k: v for k, v in service_env(speed, days).items() if int(os.environ.get(k) or 120) < int(v)}
    if missing:
        logging.getLogger("dyade.demo").warning(
            "horloge ×%g: les services doivent accepter des appels reçus jusqu'à %s min plus tôt (%s); "
            "`dyade up --demo-speed %g` les règle, sinon les appels accélérés n'alertent personne",
            speed, next(iter(missing.values())), ", ".join(f"{k}={v}" for k, v in missing.items()), speed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    banner = settings.dyade_home / "demo-acces.txt"
    try:
        Demo(settings, DemoOptions(speed=speed, days=days, seed=seed, history_days=history_days, frames=frames,
                                   field_team=field_team, banner_path=str(banner)), stop).run()
    except KeyboardInterrupt:
        stop.set()
    logging.getLogger("dyade.demo").info("démo arrêtée")


def _fail(message: str) -> None:
    console.print(f"[bold red]erreur:[/] {message}")
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("simulate", help="Génère les appels d'une ville simulée (fichier, intake ou topic brut).")(simulate)
    app.command("demo", help="Démo en direct (lancée par `dyade up`): dyades, fiches, flux d'appels.")(demo)
