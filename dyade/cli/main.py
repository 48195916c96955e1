"""`dyade`: the platform's command line. Each service may add its own commands in
`services/<name>/cli.py`: a `register(app)` function, or a typer app named `app` that appears under
the service's name."""
from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape
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
        fail(f"KAFKA_BOOTSTRAP_SERVERS n'est pas défini et aucun `dyade up` ne tourne pour "
             f"DYADE_HOME={settings.dyade_home} (le broker embarqué ne vit que pendant `dyade up`).")
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


SERVICE_STATES = {"ok": "[green]prêt[/]", "degraded": "[yellow]dégradé[/]", "unavailable": "[red]indisponible[/]"}
CONSUMER_STATES = {"running": "[green]actif[/]", "starting": "[yellow]démarrage[/]",
                   "reconnecting": "[yellow]reconnexion[/]", "stalled": "[red]bloqué[/]"}


def ago(seconds) -> str:
    """How long ago, in French: il y a 3 s, il y a 2 min, il y a 1 h 05; a dash when unknown."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds != seconds or seconds < 0:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"il y a {s} s"
    if s < 3600:
        return f"il y a {s // 60} min"
    if s < 86400:
        return f"il y a {s // 3600} h {s % 3600 // 60:02d}"
    return f"il y a {s // 86400} j"


def _count(value) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "—"


def readiness_rows(code: int | None, doc) -> tuple[bool, str, str, list[tuple[str, str, str, str, str, str]]]:
    """A service's /readyz answer, read defensively (a service not yet upgraded has no "consumers"):
    (all ok, state, detail, [(group, state, lag, last progress, dead letters 5 min, message)])."""
    if code is None:
        return False, "[red]arrêté[/]", "ne répond pas", []
    doc = doc if isinstance(doc, dict) else {}
    status = doc.get("status") if isinstance(doc.get("status"), str) else ("ok" if code == 200 else "unavailable")
    ok = code == 200 and status == "ok"
    state = SERVICE_STATES.get(status, f"[yellow]{escape(status)}[/]")
    if code != 200 and status == "ok":  # a 5xx without the contract's body
        state, ok = f"[red]HTTP {code}[/]", False
    checks = doc.get("checks") if isinstance(doc.get("checks"), dict) else {}
    failing = {k: v for k, v in checks.items() if v != "ok"}
    if failing:
        detail = "; ".join(f"{k}: {v}" for k, v in failing.items())
    else:
        detail = f"ok ({', '.join(checks)})" if checks else ""
    rows = []
    consumers = doc.get("consumers") if isinstance(doc.get("consumers"), list) else []
    for c in consumers:
        if not isinstance(c, dict):
            continue
        c_state = c.get("state") if isinstance(c.get("state"), str) else "?"
        ok = ok and c_state == "running"
        rows.append((str(c.get("group", "?")), CONSUMER_STATES.get(c_state, f"[yellow]{escape(c_state)}[/]"),
                     _count(c.get("lag")), ago(c.get("last_progress_age_s")),
                     _count(c.get("dead_letters_last_5min")), str(c.get("message") or "")))
    return ok, state, escape(str(detail)), [(escape(g), st, lag, age, dl, escape(msg))
                                            for g, st, lag, age, dl, msg in rows]


@app.command(help="État de chaque service (readyz) et de chacun de ses consommateurs ; code 1 si quelque "
                  "chose ne va pas.")
def status() -> None:
    import httpx

    from dyade import runfile
    settings = get_settings()
    running = runfile.running(settings.dyade_home) or {}
    urls = runfile.service_urls(settings.dyade_home) or {s.name: settings.url_of(s.name) for s in SERVICES}
    supervised = running.get("services") if isinstance(running.get("services"), dict) else {}
    table = Table("service", "consommateur", "état", "retard", "dernier progrès", "lettres mortes (5 min)", "détail")
    all_ok = True
    for name, url in urls.items():
        try:
            r = httpx.get(f"{url}/readyz", timeout=3)
            try:
                doc = r.json()
            except ValueError:
                doc = None
            ok, state, detail, rows = readiness_rows(r.status_code, doc)
        except httpx.HTTPError:
            ok, state, detail, rows = readiness_rows(None, None)
        sup = supervised.get(name) if isinstance(supervised.get(name), dict) else {}
        if sup.get("restarts"):
            detail = f"{detail} — redémarré {sup['restarts']} fois par dyade up".lstrip(" —")
        if sup.get("state") in ("waiting", "stopping"):
            detail = f"{detail} — {sup.get('state_fr')} ({escape(str(sup.get('last_failure') or ''))})".lstrip(" —")
        all_ok = all_ok and ok
        table.add_row(f"[bold]{escape(name)}[/]", "", state, "", "", "", f"{escape(url)} {detail}".strip())
        for group, c_state, lag, age, dead, message in rows:
            table.add_row("", group, c_state, lag, age, dead, message)
    Console().print(table)
    if running:
        console.print(f"[dim]`dyade up` (pid {running.get('pid')}), broker {running.get('bootstrap_servers')}[/]")
    raise typer.Exit(0 if all_ok else 1)


@app.command(help="Émet un jeton d'accès pour un rôle (développement et intégration).")
def token(role: str = typer.Argument(..., help="dispatch, officer, calltaker, partner, social_worker, dyad, "
                                                 "supervisor, analyst, admin"),
          subject: str = typer.Option(None, help="Identifiant nommé de la personne ou du système (requis), "
                                                 "p. ex. agente-tremblay ou rao-laval."),
          sector: str = typer.Option(None, help="Secteur (dyades)."),
          dyad: str = typer.Option(None, help="Identifiant de dyade (application terrain)."),
          hours: int = typer.Option(None, help="Durée de validité en heures (défaut 12; au plus DYADE_TOKEN_MAX_HOURS "
                                               "pour une personne, DYADE_TOKEN_MAX_HOURS_SYSTEM pour dispatch)."),
          service: list[str] = typer.Option(None, "--service", help="Service où le jeton vaut (répétable) : intake, "
                                                                    "triage, infosocial, notifier, analytics. Défaut : "
                                                                    "tous ceux qui admettent le rôle. Les services "
                                                                    "auxquels celui-ci transmet le jeton s'ajoutent "
                                                                    "(infosocial → intake, triage).")) -> None:
    from dyade.auth import TokenPolicyError, audience_for, issue_token, max_token_hours, max_token_setting
    from dyade.contracts import Role
    from dyade.settings import SettingsError
    try:
        Role(role)
    except ValueError:
        fail(f"rôle inconnu: {role}")
    if not subject or not subject.strip():
        fail("nommez la personne ou le système qui utilisera le jeton : --subject NOM (p. ex. --subject agente-tremblay)")
    settings = get_settings()
    limit = max_token_hours(role, settings)
    hours = min(12, limit) if hours is None else hours
    if hours <= 0:
        fail("--hours : la durée de validité doit être d'au moins 1 heure")
    if hours > limit:
        fail(f"--hours {hours} : un jeton {role} vit au plus {limit} h ({max_token_setting(role)})")
    try:
        audience = audience_for(role, service or None)
        settings.check_secrets()
        issued = issue_token(settings.secret("dyade_token_secret"), subject=subject.strip(), role=role,
                             ttl_s=hours * 3600, max_ttl_s=limit * 3600, sector=sector, dyad_id=dyad,
                             audience=audience)
    except (SettingsError, TokenPolicyError) as exc:
        fail(str(exc))
    print(issued)  # alone on stdout: TOKEN=$(dyade token ...)
    console.print(f"valable {hours} h pour : {', '.join(audience)}", highlight=False)


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
