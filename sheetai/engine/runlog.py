"""The log stage: the ``sheetai log`` tab gets one row per step per run that wrote something.

Rows and columns are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..backends.base import Backend, CellBlock
from ..tabs import LOG_TAB
from .summary import RunSummary
from .workbook import Workbook

__all__ = ["LOG_TAB", "LOG_HEADERS", "log_rows", "header_outdated", "append_log"]

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
    # Added after the first release: always appended, so readers that go by header keep working.
    "Rows/s",
    "Requests",
    "Retries",
    "Rate limited (429)",
    "Cost per row (USD)",
    "Response format",
    "Standing flags",
    "Model load (s)",
    "Stale",
    "Trigger",
]


def log_rows(
    summary: RunSummary, now: datetime | None = None, trigger: str = "cli"
) -> list[list[Any]]:
    """Rows to append to the log tab for ``summary``; ``trigger`` is what started the run."""
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
            round(s.rows_per_second, 2),
            s.requests,
            s.retries,
            s.rate_limited,
            round(s.cost_usd / s.processed, 8) if s.processed else 0,
            s.response_format,
            s.flagged_total,
            round(s.load_seconds, 2),
            s.stale,
            trigger,
        ]
        for s in summary.steps
    ]


def header_outdated(header: list[Any]) -> bool:
    """True for a log tab written by an older sheetai: same columns, fewer of them."""
    names = [str(h or "").strip() for h in header]
    while names and not names[-1]:
        names.pop()
    return len(names) < len(LOG_HEADERS) and names == LOG_HEADERS[: len(names)]


def append_log(backend: Backend, book: Workbook, summary: RunSummary, trigger: str = "cli") -> None:
    """Append the run's rows to the log tab, creating it (or updating its header) as needed."""
    grid = book.grids.get(LOG_TAB)
    if LOG_TAB not in book.titles:
        backend.add_sheet(LOG_TAB)
        book.titles.append(LOG_TAB)
        grid = []
        # Room for the header, and for a timestamp in the first column.
        widths = {i: max(10, len(h) + 3) for i, h in enumerate(LOG_HEADERS, start=1)}
        backend.set_column_widths(LOG_TAB, {**widths, 1: 20})
    rows = log_rows(summary, trigger=trigger)
    blocks = []
    if not grid:
        rows = [LOG_HEADERS, *rows]
    elif header_outdated(grid[0]):
        blocks.append(CellBlock(LOG_TAB, 1, 1, [LOG_HEADERS]))
    blocks.append(CellBlock(LOG_TAB, len(grid or []) + 1, 1, rows))
    backend.write(blocks)
