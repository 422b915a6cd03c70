"""How the CLI shows progress and summaries (rich, on stderr so ``--json`` stdout stays clean)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..engine.summary import RunSummary, StepSummary
from ..engine.sync import Listener
from ..steps import Step

__all__ = ["ProgressListener", "summary_table", "plan_table", "preview_table", "err_console"]

err_console = Console(stderr=True, soft_wrap=True)


class ProgressListener(Listener):
    """A progress bar per step."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: int | None = None
        self.batch_tasks: dict[str, Any] = {}

    def _bars(self) -> Progress:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
        return self.progress

    def step_started(self, step: Step, total: int) -> None:
        if not self.enabled or total == 0:
            return
        self.task = self._bars().add_task(escape(f"{step.name} ({step.model}) rows"), total=total)

    def rows_done(self, step: Step, count: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, count)  # type: ignore[arg-type]

    def step_finished(self, summary: StepSummary) -> None:
        self.task = None

    def batch_progress(self, step: Step, done: int, total: int, running: bool) -> None:
        """One bar per step while ``--batch --wait`` polls the Batch API."""
        if not self.enabled or not total:
            return
        bars = self._bars()
        if step.name not in self.batch_tasks:
            title = escape(f"{step.name}: OpenAI batch lines")
            self.batch_tasks[step.name] = bars.add_task(title, total=total)
        bars.update(self.batch_tasks[step.name], completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def plan_table(summary: RunSummary) -> Table:
    table = Table(title=escape(f"Plan for {summary.workbook}"), title_justify="left")
    headers = [
        "Step",
        "Model",
        "To write",
        "New",
        "Changed",
        "Unchanged",
        "Kept edits",
        "Est. cost",
    ]
    for name in headers:
        table.add_column(name, justify="left" if name in ("Step", "Model") else "right")
    table.columns[0].no_wrap = True
    for s in summary.steps:
        counts = [s.planned, s.new, s.changed + s.retried, s.skipped_unchanged, s.kept_human_edits]
        cost = f"${s.estimated_cost_usd:.4f}"
        table.add_row(escape(s.step), escape(s.model), *map(str, counts), cost)
    return table


def summary_table(summary: RunSummary) -> Table:
    title = f"{summary.workbook}: {summary.status} in {summary.seconds:.1f} s"
    table = Table(title=escape(title), title_justify="left")
    headers = ["Step", "Written", "Unchanged", "Kept edits", "Failed", "Flagged", "Cost", "Rows/s"]
    for name in headers:
        table.add_column(name, justify="left" if name == "Step" else "right")
    table.columns[0].no_wrap = True
    for s in summary.steps:
        counts = [s.processed, s.skipped_unchanged, s.kept_human_edits, s.failed, s.flagged]
        rate = f"{s.rows_per_second:.0f}" if s.processed else "-"
        table.add_row(escape(s.step), *map(str, counts), f"${s.cost_usd:.4f}", rate)
    return table


def preview_table(summary: StepSummary) -> Table:
    """The rows a ``--preview`` ran, to judge a prompt before paying for every row."""
    title = escape(f"Preview of step '{summary.step}'")
    table = Table(title=title, title_justify="left", show_lines=True)
    for name in ("Row", "Input", "Result", "Confidence", "Reasoning"):
        table.add_column(name, overflow="fold")
    for row in summary.preview:
        text = str(row["input"])
        confidence = "" if row["confidence"] is None else f"{row['confidence']:.2f}"
        result = str(row["result"] if row["result"] is not None else row["flag"] or "")
        cells = [text[:200], result, str(row["reasoning"] or "")]
        table.add_row(str(row["row"]), *map(escape, cells[:2]), confidence, escape(cells[2]))
    return table
