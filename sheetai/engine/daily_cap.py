"""A per-day spending cap for syncs nobody pressed (on edit, on schedule, ``sheetai watch``).

A sheet that syncs itself can spend without anyone looking: a formula that recalculates every
row, a pipeline dropping a new export every minute. Each workbook's automatic spend is kept per
UTC day in ``<SHEETAI_HOME>/daily_spend.sqlite3``; an automatic sync runs with what remains of
``Settings.auto_max_cost_usd_per_day`` as its cost cap, and is refused once it is spent. A
person's run (the CLI, a Sync button) neither counts nor is capped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..backends.base import Backend
from ..errors import SheetAIError
from ..providers.base import Provider
from ..providers.registry import get_provider
from ..settings import Settings
from ..sqlite import open_store
from .options import AUTOMATIC_TRIGGERS, Listener, SyncOptions
from .summary import RunSummary
from .sync import sync

__all__ = ["DailySpend", "DailyCapReached", "capped_sync"]


class DailyCapReached(SheetAIError):
    """Today's cap for automatic syncs of this workbook is spent; the sync did not start."""


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


class DailySpend:
    """USD spent by automatic syncs, per workbook per UTC day; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_store(
            path,
            [
                "CREATE TABLE IF NOT EXISTS spend (day TEXT NOT NULL, workbook TEXT NOT NULL,"
                " usd REAL NOT NULL, PRIMARY KEY (day, workbook))"
            ],
        )

    @classmethod
    def in_home(cls, home: Path) -> DailySpend:
        return cls(Path(home) / "daily_spend.sqlite3")

    def spent(self, workbook: str, day: str | None = None) -> float:
        """USD spent on ``workbook`` by automatic syncs on ``day`` (default: today, UTC)."""
        with self._lock:
            row = self._db.execute(
                "SELECT usd FROM spend WHERE day = ? AND workbook = ?", (day or _today(), workbook)
            ).fetchone()
        return float(row[0]) if row else 0.0

    def add(self, workbook: str, usd: float, day: str | None = None) -> None:
        if usd <= 0:
            return
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO spend (day, workbook, usd) VALUES (?, ?, ?) ON CONFLICT (day, "
                "workbook) DO UPDATE SET usd = usd + excluded.usd",
                (day or _today(), workbook, usd),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def capped_sync(
    backend: Backend,
    settings: Settings,
    options: SyncOptions,
    listener: Listener | None = None,
    provider_for: Callable[[str, Settings], Provider] = get_provider,
) -> RunSummary:
    """:func:`~.sync.sync`, with an automatic trigger's run capped by what is left of today.

    Raises:
        DailyCapReached: today's cap for this workbook is spent; nothing was read or run.
    """
    cap = settings.auto_max_cost_usd_per_day
    if options.trigger not in AUTOMATIC_TRIGGERS or cap is None or options.dry_run:
        return sync(backend, settings, options, listener, provider_for)
    spend = DailySpend.in_home(settings.home)
    try:
        spent = spend.spent(backend.location)
        left = cap - spent
        if left <= 0 and spent > 0:  # a cap of 0 still lets free models answer
            raise DailyCapReached(
                f"{backend.location}: not synced ({options.trigger}): automatic syncs have spent "
                f"${spent:.4f} of today's cap ${cap:.4f} (SHEETAI_AUTO_MAX_COST_USD_PER_DAY); "
                "it starts again at 00:00 UTC. Run sheetai run or press Sync to go on now."
            )
        binding = options.max_cost_usd is None or left <= options.max_cost_usd
        capped = SyncOptions(
            **{**vars(options), "max_cost_usd": min(left, options.max_cost_usd or left)}
        )
        so_far = RunSummary(workbook=backend.location)
        try:
            summary = sync(backend, settings, capped, listener, provider_for, into=so_far)
        except BaseException:
            # Stopped or failed part-way: what its answered rows cost is spent all the same.
            spend.add(backend.location, so_far.total("cost_usd"))
            raise
        cost = summary.total("cost_usd")
        if binding and summary.status == "cost_cap":
            # What is left cannot pay for the next request: today is spent, and the next
            # automatic sync is refused with a message rather than run to do nothing.
            cost = max(cost, left)
            summary.messages.append(
                f"automatic syncs of this workbook reached today's cap ${cap:.4f} "
                "(SHEETAI_AUTO_MAX_COST_USD_PER_DAY); they start again at 00:00 UTC."
            )
        spend.add(backend.location, cost)
        return summary
    finally:
        spend.close()
