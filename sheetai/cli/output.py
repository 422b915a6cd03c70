"""How the CLI shows progress (rich, on stderr so ``--json`` stdout stays clean).

On a terminal each step gets a live bar; piped or logged (cron, CI), a plain line when a step
starts, when it is busy with something else than rows (loading the model) and when it ends.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..engine.summary import StepSummary
from ..engine.sync import Listener
from ..steps import Step
from .report import SHOWN_LOAD_SECONDS, plan_table, preview_table, print_report, summary_table

__all__ = [
    "ProgressListener",
    "summary_table",
    "plan_table",
    "preview_table",
    "print_report",
    "err_console",
]

err_console = Console(stderr=True, soft_wrap=True)


class ProgressListener(Listener):
    """A progress bar per step on a terminal, a line per event elsewhere.

    Args:
        console: Where progress goes (stderr).
        enabled: False to say nothing (``--json``).
        live: Draw bars; default: when ``console`` is a terminal.
    """

    def __init__(self, console: Console, enabled: bool = True, live: bool | None = None) -> None:
        self.console = console
        self.enabled = enabled
        self.live = console.is_terminal if live is None else live
        self.progress: Progress | None = None
        self.task: Any = None
        self.title = ""
        self.started: set[str] = set()
        self.batch_tasks: dict[str, Any] = {}
        self.batch_done: dict[str, int] = {}

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

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def step_started(self, step: Step, total: int) -> None:
        if not self.enabled or total == 0:
            return
        self.started.add(step.name)
        self.title = escape(f"{step.name} ({step.model}) rows")
        if self.live:
            self.task = self._bars().add_task(self.title, total=total)
        else:
            self._line(f"{step.name} ({step.model}): {total} rows to write")

    def status(self, step: Step, text: str) -> None:
        """Shown in place of the bar's title, so a bar stalled at 0 says why."""
        if not self.enabled or step.name not in self.started:
            return
        if not self.live:
            if text:
                self._line(f"{step.name}: {text}")
        elif self.progress is not None and self.task is not None:
            title = f"{self.title}: {escape(text)}" if text else self.title
            self.progress.update(self.task, description=title)

    def rows_done(self, step: Step, count: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, count)

    def step_finished(self, summary: StepSummary) -> None:
        self.task = None
        if not self.enabled or self.live or summary.step not in self.started:
            return
        load = (
            f", model load {summary.load_seconds:.1f} s"
            if summary.load_seconds >= SHOWN_LOAD_SECONDS
            else ""
        )
        cost = "" if summary.cost_known else ", cost unknown (the model has no price)"
        self._line(
            f"{summary.step}: {summary.status}, {summary.processed} rows written in "
            f"{summary.seconds:.1f} s{load}{cost}"
        )

    def batch_progress(self, step: Step, done: int, total: int, running: bool) -> None:
        """One bar per step while ``--batch --wait`` polls the Batch API."""
        if not self.enabled or not total:
            return
        if not self.live:
            if self.batch_done.get(step.name) != done:
                self.batch_done[step.name] = done
                self._line(f"{step.name}: batch lines {done}/{total}")
            return
        bars = self._bars()
        if step.name not in self.batch_tasks:
            title = escape(f"{step.name}: batch lines")
            self.batch_tasks[step.name] = bars.add_task(title, total=total)
        bars.update(self.batch_tasks[step.name], completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
