"""The nightly refresh: syncs listed in a JSON file, each on a cron schedule (APScheduler 3).

The file (``SHEETAI_SCHEDULE_FILE``, default ``<SHEETAI_HOME>/schedule.json``)::

    [
      {"sheet": "https://docs.google.com/spreadsheets/d/<id>/edit", "cron": "0 2 * * *"},
      {"sheet": "<id>", "cron": "30 6 * * 1-5", "step": "sentiment"}
    ]

A scheduled sync is an ordinary job (origin and log trigger ``schedule``): if the sheet is
already syncing, it joins that job; like every automatic sync it spends from the per-day cap
(``SHEETAI_AUTO_MAX_COST_USD_PER_DAY``). A refresh of an unchanged sheet reads it twice and
makes no model call and no write.

Every replica reads the same file and runs the same timers; each fire is claimed in the store
first (:class:`ScheduleFires`, a row per entry and cron time), so one replica submits it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from ..backends.open import google_key
from ..errors import ConfigError
from ..stores import Store

__all__ = ["ScheduledSync", "ScheduleFires", "load_schedule", "NightlyScheduler"]

log = logging.getLogger("sheetai.service")


@dataclass(frozen=True)
class ScheduledSync:
    """One sheet to sync on a cron schedule (``minute hour day month weekday``)."""

    sheet: str  # the spreadsheet id
    cron: str
    step: str | None = None

    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron)

    @property
    def key(self) -> str:
        return f"{self.sheet}|{self.step or ''}|{self.cron}"

    def last_fire(self, now: datetime) -> datetime:
        """The latest cron time at or before ``now`` (within the hour a misfire may run late),
        the same on every replica however late its timer woke."""
        trigger, latest = self.trigger(), now.replace(second=0, microsecond=0)
        moment = trigger.get_next_fire_time(None, now - timedelta(hours=1))
        while moment is not None and moment <= now:
            latest, moment = moment, trigger.get_next_fire_time(moment, moment + timedelta(0, 1))
        return latest


class ScheduleFires:
    """Which replica fired which scheduled refresh: the first to insert its row."""

    _KEEP_S = 7 * 86400

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(
            [
                "CREATE TABLE IF NOT EXISTS schedule_fires (entry TEXT NOT NULL,"
                " fire_time DOUBLE PRECISION NOT NULL, replica TEXT,"
                " PRIMARY KEY (entry, fire_time))"
            ]
        )

    def claim(self, entry: str, fire_time: float, replica: str) -> bool:
        """True for the one caller that fires ``entry`` at ``fire_time``."""
        with self.store.transaction() as tx:
            tx.execute(
                "DELETE FROM schedule_fires WHERE fire_time < ?", (fire_time - self._KEEP_S,)
            )
            return bool(
                tx.execute(
                    "INSERT INTO schedule_fires (entry, fire_time, replica) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING RETURNING entry",
                    (entry, fire_time, replica),
                )
            )


def load_schedule(path: Path) -> list[ScheduledSync]:
    """Read and check the schedule file; a missing file is an empty schedule."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}).") from exc
    if not isinstance(data, list):
        raise ConfigError(f'{path}: must be a JSON list of {{"sheet", "cron", "step"?}} objects.')
    entries = []
    for i, item in enumerate(data):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("sheet"), str):
            raise ConfigError(f'{where}: needs "sheet" (a Google Sheets URL or id) and "cron".')
        key = google_key(item["sheet"])
        if key is None:
            raise ConfigError(f"{where}: '{item['sheet']}' is not a Google Sheets URL or id.")
        step = item.get("step")
        entry = ScheduledSync(key, str(item.get("cron", "")), step if step else None)
        try:
            entry.trigger()
        except ValueError as exc:
            raise ConfigError(
                f"{where}: bad cron '{entry.cron}' ({exc}). Use five fields, e.g. '0 2 * * *' "
                "for 02:00 every day."
            ) from exc
        entries.append(entry)
    return entries


class NightlyScheduler:
    """Calls ``submit(sheet, step)`` for each entry when its cron time comes.

    Args:
        claim: ``claim(entry key, fire time) -> bool``; only a True fire submits (replicas
            share a :class:`ScheduleFires`). None: every fire submits.
    """

    def __init__(
        self,
        entries: list[ScheduledSync],
        submit: Callable[[str, str | None], Any],
        claim: Callable[[str, float], bool] | None = None,
    ) -> None:
        self.entries = entries
        self.submit = submit
        self.claim = claim
        self._scheduler = BackgroundScheduler(daemon=True)
        for i, entry in enumerate(entries):
            self._scheduler.add_job(
                self._fire,
                entry.trigger(),
                args=[entry],
                id=f"sync-{i}",
                coalesce=True,  # a service down at 02:00 runs one refresh, not a backlog
                misfire_grace_time=3600,
                max_instances=1,
            )

    def _fire(self, entry: ScheduledSync, at: datetime | None = None) -> None:
        fire_time = at or entry.last_fire(datetime.now(self._scheduler.timezone))
        try:
            if self.claim is not None and not self.claim(entry.key, fire_time.timestamp()):
                log.info("scheduled sync fired by another replica", extra={"sheet": entry.sheet})
                return
            log.info("scheduled sync", extra={"sheet": entry.sheet, "cron": entry.cron})
            self.submit(entry.sheet, entry.step)
        except Exception:  # the scheduler thread must survive, and say what happened
            log.exception("scheduled sync could not be queued", extra={"sheet": entry.sheet})

    def next_runs(self) -> list[tuple[ScheduledSync, datetime | None]]:
        jobs = {job.id: job for job in self._scheduler.get_jobs()}
        return [
            (entry, getattr(jobs.get(f"sync-{i}"), "next_run_time", None))
            for i, entry in enumerate(self.entries)
        ]

    def fire(self, now: datetime | None = None) -> None:
        """Fire every entry as its timer would at ``now``: for the latest cron time before it,
        which one replica claims (a test, or an operator's nudge, without waiting)."""
        for entry in self.entries:
            moment = now or datetime.now(self._scheduler.timezone)
            self._fire(entry, at=entry.last_fire(moment))

    def run_now(self) -> None:
        """Fire every entry now (once), as if its time had come."""
        now = datetime.now(self._scheduler.timezone)
        for entry in self.entries:
            self._fire(entry, at=now)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
