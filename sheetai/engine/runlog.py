"""The ``sheetai log`` tab: one row per step per run that wrote something."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .summary import RunSummary

__all__ = ["LOG_TAB", "LOG_HEADERS", "log_rows"]

LOG_TAB = "sheetai log"
LOG_HEADERS = [
    "When (UTC)",
    "Step",
    "Sheet",
    "Model",
    "Planned",
    "Processed",
    "Unchanged",
    "Kept edits",
    "Failed",
    "Flagged",
    "Tokens",
    "Cost (USD)",
    "Seconds",
    "Status",
]


def log_rows(summary: RunSummary, now: datetime | None = None) -> list[list[Any]]:
    """Rows to append to the log tab for ``summary``."""
    when = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S")
    return [
        [
            when,
            s.step,
            s.sheet,
            s.model,
            s.planned,
            s.processed,
            s.skipped_unchanged,
            s.kept_human_edits,
            s.failed,
            s.flagged,
            s.tokens,
            round(s.cost_usd, 6),
            round(s.seconds, 2),
            s.status,
        ]
        for s in summary.steps
    ]
