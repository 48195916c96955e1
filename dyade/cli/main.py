"""`dyade`: the platform's command line. Each service may add its own commands in
`services/<name>/cli.py`: a `register(app)` function, or a typer app named `app` that appears under
the service's name."""
from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.table import Table

from dyade.cli import up as up_module
from dyade.service import SERVICES
from dyade.settings import get_settings

app = typer.Typer(help="Dyade — plateforme des équipes mixtes police–intervention sociale.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=True)

app.command("up", help="Démarre le broker, la base, les services et la démo.")(up_module.up)


@app.command(help="Liste les topics déclarés et leur état sur le broker.")
def topics(create: bool = typer.Option(False, help="Créer les topics manquants.")) -> None:
    from dyade.contracts import TOPICS
    from dyade.kafka import BrokerUnreachable, create_topics, missing_topics
    settings = get_settings()
    if not settings.kafka_bootstrap_servers:
        fail("KAFKA_BOOTSTRAP_SERVERS n'est pas défini (le broker embarqué ne vit que pendant `dyade up`).")
    try:
        if create:
            # Partitions as each topic declares them, unless DYADE_TOPIC_PARTITIONS is set explicitly.
            partitions = settings.dyade_topic_partitions if "dyade_topic_partitions" in settings.model_fields_set else None
            created = create_topics(settings.kafka_bootstrap_servers, partitions=partitions,
                                    replication=settings.dyade_topic_replication)
            console.print(f"{len(created)} topic(s) créé(s)")
        missing = set(missing_topics(settings.kafka_bootstrap_servers))
    except BrokerUnreachable as exc:
        fail(str(exc))
    table = Table("topic", "clé", "partitions", "nettoyage", "producteur", "consommateurs", "état")
    for t in TOPICS:
        table.add_row(t.name, t.key, str(t.partitions), "compact" if t.compacted else "delete", t.produced_by,
                      ", ".join(t.consumed_by), "[red]absent[/]" if t.name in missing else "[green]présent[/]")
    Console().print(table)


@app.command(help="État de chaque service (readyz).")
def status() -> None:
    import httpx
    settings = get_settings()
    table = Table("service", "URL", "état", "détail")
    down = 0
    for spec in SERVICES:
        url = settings.url_of(spec.name)
        try:
            r = httpx.get(f"{url}/readyz", timeout=2)
            state = "[green]prêt[/]" if r.status_code == 200 else "[yellow]pas prêt[/]"
            detail = ", ".join(f"{k}: {v}" for k, v in r.json().get("checks", {}).items())
            down += r.status_code != 200
        except httpx.HTTPError:
            state, detail = "[red]arrêté[/]", "ne répond pas"
            down += 1
        table.add_row(spec.name, url, state, detail)
    Console().print(table)
    raise typer.Exit(1 if down else 0)


@app.command(help="Émet un jeton d'accès pour un rôle (développement et intégration).")
def token(role: str = typer.Argument(..., help="dispatch, officer, calltaker, partner, social_worker, dyad, "
                                                 "supervisor, analyst, admin"),
          subject: str = typer.Option("demo", help="Identifiant de la personne ou du système."),
          sector: str = typer.Option(None, help="Secteur (dyades)."),
          dyad: str = typer.Option(None, help="Identifiant de dyade (application terrain)."),
          hours: int = typer.Option(12, help="Durée de validité.")) -> None:
    from dyade.auth import issue_token
    from dyade.contracts import Role
    try:
        Role(role)
    except ValueError:
        fail(f"rôle inconnu: {role}")
    print(issue_token(get_settings().secret("dyade_token_secret"), subject=subject, role=role,
                      ttl_s=hours * 3600, sector=sector, dyad_id=dyad))


@app.command(help="Applique les migrations de la base de données.")
def migrate() -> None:
    from dyade.db import DatabaseError
    from dyade.db import migrate as run_migrations
    try:
        run_migrations(get_settings().db_url)
    except DatabaseError as exc:
        fail(str(exc))
    console.print("[green]base de données à jour[/]")


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]erreur:[/] {message}")
    raise typer.Exit(code)


def _add_service_commands() -> None:
    for spec in SERVICES:
        try:
            module = importlib.import_module(f"{spec.module}.cli")
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == f"{spec.module}.cli" or spec.module.startswith(exc.name)):
                continue
            raise
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=spec.name, help=spec.title)
    for extra in ("dyade.simulation.cli",):
        try:
            module = importlib.import_module(extra)
        except ModuleNotFoundError as exc:
            if exc.name and extra.startswith(exc.name):
                continue
            raise
        module.register(app)


_add_service_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
