"""The replay's progress bar: done / total, percentage, rate (calls per second) and time left (rich)."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second over rich's recent window (`task.speed`), e.g. « 812 appels/s »."""

    def __init__(self, unit: str = "appels/s"):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text(f"– {self.unit}", style="progress.data.speed")
        shown = f"{speed:,.0f}".replace(",", " ") if speed >= 10 else f"{speed:.1f}".replace(".", ",")
        return Text(f"{shown} {self.unit}", style="progress.data.speed")


def columns(unit: str = "appels/s") -> tuple[ProgressColumn, ...]:
    return (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            RateColumn(unit), TextColumn("écoulé"), TimeElapsedColumn(), TextColumn("reste"),
            TimeRemainingColumn(compact=True))


def replay_progress(console: Console) -> Progress:
    return Progress(*columns(), console=console, speed_estimate_period=10.0)
