"""What a caller asks of a sync, and how it hears about progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..steps import Step
from .summary import RunSummary, StepSummary

__all__ = ["SyncOptions", "Listener", "AUTOMATIC_TRIGGERS"]

#: Triggers nobody pressed: their syncs spend from ``Settings.auto_max_cost_usd_per_day``.
AUTOMATIC_TRIGGERS = frozenset({"edit", "schedule", "watch", "excel-edit"})


@dataclass
class SyncOptions:
    """What the caller asked for (the CLI's flags)."""

    step: str | None = None
    dry_run: bool = False
    force: bool = False
    only_flagged: bool = False
    model: str | None = None
    max_cost_usd: float | None = None
    preview: int | None = None
    confirm: Callable[[RunSummary], bool] | None = None
    batch: bool = False  # submit to the Batch API instead of asking row by row
    wait: bool = False  # with batch: poll until the batches end and write their results
    rpm: int | None = None
    tpm: int | None = None
    output_tpm: int | None = None
    concurrency: int | None = None
    relearn: bool = False  # re-answer stale rows of paid models with what they learnt since
    # What started the run, for the log tab's Trigger column: "cli", "button", "edit",
    # "schedule", "watch", "excel-button", "excel-edit". Automatic ones (AUTOMATIC_TRIGGERS)
    # spend from a per-day cap (engine/daily_cap.py).
    trigger: str = "cli"


class Listener:
    """Receives progress; the CLI draws bars, the service records job progress."""

    def plan_ready(self, summary: RunSummary) -> None:
        """Called once with the dry-run plan before anything runs."""

    def step_started(self, step: Step, total: int) -> None:
        """``total`` rows will be written by this step."""

    def rows_done(self, step: Step, count: int) -> None:
        """``count`` more rows of the current step are written (in memory)."""

    def status(self, step: Step, text: str) -> None:
        """What the step is busy with while no rows finish (``"loading the embedded model…"``);
        ``""`` when that is over. Providers that have nothing to say send nothing."""

    def step_finished(self, summary: StepSummary) -> None:
        """The step is complete, failed or interrupted."""

    def batch_progress(self, step: Step, done: int, total: int, running: bool) -> None:
        """The Batch API has answered ``done`` of the ``total`` lines of the step's batches."""
