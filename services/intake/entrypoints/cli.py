"""`dyade replay`: load a dispatch system's history (CSV / JSON lines) into intake. The mapping's code table
is loaded into intake first (PUT /v1/code-tables/{name}, admin token): a new city needs no file in
INTAKE_MAPPINGS_DIR and no restart of intake. Progress shows the rate (calls/s) and the time left."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def _count_lines(paths: list[str], fmt: str) -> int:
    from services.intake.entrypoints.replay.reader import export_files
    total = 0
    for f in export_files(paths, fmt):
        try:
            with open(f, "rb") as fh:
                total += max(0, sum(1 for _ in fh) - (1 if fmt == "csv" else 0))
        except OSError:
            total += 1
    return total


def replay_command(
    paths: List[str] = typer.Argument(..., help="Fichiers CSV / JSONL, ou dossiers qui en contiennent."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="Fichier YAML: colonnes et table de codes de la ville."),
    url: Optional[str] = typer.Option(None, help="URL du service intake (défaut: celle des réglages, port 8001)."),
    token: Optional[str] = typer.Option(None, help="Jeton du rôle dispatch (défaut: émis avec le secret local)."),
    rate: Optional[float] = typer.Option(None, help="Débit maximal, en appels par seconde."),
    batch_size: int = typer.Option(500, min=1, max=1000, help="Appels par lot."),
    report: Optional[Path] = typer.Option(None, help="Écrit le bilan (JSON) dans ce fichier."),
    upload: bool = typer.Option(True, "--upload/--no-upload", help="Charger d'abord la table de codes du mapping "
                                "dans intake (PUT /v1/code-tables/NOM, rôle admin; nouvelle version si elle a changé)."),
    admin_token: Optional[str] = typer.Option(None, help="Jeton du rôle admin pour charger la table (défaut: émis "
                                              "avec le secret local)."),
) -> None:
    """Reprend un historique d'appels: lignes acceptées, doublons, lignes écartées avec leur motif."""
    from dyade.auth import issue_token, max_token_hours
    from dyade.settings import get_settings
    from services.intake.adapters.code_tables import MappingError
    from services.intake.entrypoints.replay.client import ReplayError, replay
    from services.intake.entrypoints.replay.progress import replay_progress
    from services.intake.entrypoints.replay.reader import load_mapping

    settings = get_settings()
    try:
        mapped = load_mapping(mapping)
    except MappingError as exc:
        console.print(f"[red]mapping invalide:[/] {exc}")
        raise typer.Exit(2)
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        console.print(f"[red]introuvable:[/] {', '.join(missing)}")
        raise typer.Exit(2)
    token = token or issue_token(settings.secret("dyade_token_secret"), subject="dyade-replay", role="dispatch")
    if upload and not admin_token:
        admin_token = issue_token(settings.secret("dyade_token_secret"), subject="dyade-replay", role="admin",
                                  ttl_s=3600, max_ttl_s=max_token_hours("admin", settings) * 3600)
    total = _count_lines(paths, mapped.format)
    with replay_progress(console) as progress:
        task = progress.add_task(f"reprise {mapped.name}", total=total)
        try:
            tally = replay(paths, mapped, url=url or settings.url_of("intake"), token=token, batch_size=batch_size,
                           rate=rate, on_progress=lambda n: progress.advance(task, n),
                           admin_token=admin_token if upload else None)
        except ReplayError as exc:
            console.print(f"[red]reprise interrompue:[/] {exc}")
            raise typer.Exit(1)
    table = Table("", "lignes", title=f"Reprise {mapped.name}")
    if tally.table:
        t = tally.table
        table.add_row("table de codes", f"{t['name']} v{t['version']} "
                                        f"({'nouvelle version' if t.get('created') else 'inchangée'}; "
                                        f"{t.get('codes', '?')} codes, {t.get('skip', 0)} écartés)")
    table.add_row("lues", str(tally.rows))
    table.add_row("acceptées", str(tally.accepted))
    table.add_row("déjà reçues", str(tally.duplicates))
    table.add_row("refusées par intake", str(tally.rejected))
    if tally.skipped_codes:
        table.add_row("écartées: codes administratifs (skip)", f"{tally.skipped_codes}  (pas des appels)")
    for kind, n in tally.skipped.most_common():
        if kind != "code_ecarte":
            table.add_row(f"écartées: {kind}", f"{n}  (ex. {tally.examples[kind][:70]})")
    for reason, n in tally.rejected_reasons.most_common(5):
        table.add_row(f"refus: {reason}", str(n))
    table.add_row("débit", f"{tally.rows_per_s:.0f} lignes/s en {tally.seconds:.1f} s")
    Console().print(table)
    if report:
        report.write_text(json.dumps(tally.as_json(), ensure_ascii=False, indent=2))
    if tally.rows and not (tally.accepted or tally.duplicates):
        console.print("[red]aucune ligne chargée:[/] vérifiez les colonnes et les codes du mapping")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("replay", help="Reprend un historique d'appels (CSV / JSONL) avec un mapping de colonnes et de codes.")(
        replay_command)
