"""Sync a workbook file whenever anyone saves it: Excel, LibreOffice, a script, a pipeline.

The folder is watched with ``watchfiles`` (the OS's change notices; polling only where asked),
and checked once a second besides, so a lock file that goes away unnoticed is still seen. Each
sync is the ordinary one (:func:`~sheetai.engine.daily_cap.capped_sync`, trigger ``watch``): same
plan, cache, state tab, human-edit protection and cost caps, so a save that changes no step input
plans no row, calls no model and writes nothing.

* While an office program has the file open (a ``~$NAME`` or ``.~lock.NAME#`` file beside it)
  nothing is synced; the sync runs when the file is closed.
* A burst of saves (a temp file renamed over the file, a script writing in several goes) is
  one sync, once the file has not changed for ``Settings.watch_settle_seconds``.
* sheetai's own writes never wake it: after each sync the file's stamp and digest are kept,
  and only a file that differs from them is synced.
* Ctrl-C (or SIGTERM turned into one by the caller) during a sync stops it between chunks,
  every finished row saved (:class:`~sheetai.errors.RunInterrupted`); while idle it just ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from ..backends.xlsx import XlsxBackend, lock_files
from ..engine.daily_cap import DailyCapReached, capped_sync
from ..engine.options import Listener, SyncOptions
from ..engine.summary import RunSummary
from ..errors import RunInterrupted, SheetAIError, WorkbookLockedError
from ..settings import Settings
from .files import FileMark, mark_of, settled, watched_names

__all__ = ["Watcher", "WatchReport"]

#: How often the file is looked at when no change notice comes (milliseconds).
_TICK_MS = 1000


@dataclass
class WatchReport:
    """One thing the watcher did, for its caller to show.

    ``kind`` is ``"synced"`` (with ``summary``), ``"waiting"`` (the file is open elsewhere),
    ``"refused"`` (today's cap for automatic syncs is spent) or ``"failed"`` (``message`` says
    why; the next save is tried again).
    """

    kind: str
    message: str = ""
    summary: RunSummary | None = None
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class Watcher:
    """Watches one workbook file and syncs it after every save until ``stop`` is set.

    Args:
        path: the .xlsx/.xlsm file.
        settings: sheetai's settings (``watch_settle_seconds``, ``watch_force_polling``, caps).
        options: what each sync does (``--step``, ``--model``, ``--max-cost``); its trigger is
            set to ``"watch"`` and it never asks before spending.
        report: called with a :class:`WatchReport` for every sync and every wait.
        stop: set it (from another thread) to end :meth:`run` between syncs.
        listener: progress of each sync.
    """

    def __init__(
        self,
        path: Path,
        settings: Settings,
        options: SyncOptions,
        report: Callable[[WatchReport], None],
        stop: threading.Event | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.path = Path(path)
        self.settings = settings
        self.options = replace(options, trigger="watch", confirm=None, dry_run=False)
        self.report = report
        self.stop = stop or threading.Event()
        self.listener = listener
        self._seen: FileMark | None = None
        self._told_locked = False

    def run(self) -> None:
        """Sync once now (rows added while nobody watched), then after every save."""
        import watchfiles

        names = watched_names(self.path)
        self.check()
        for _ in watchfiles.watch(
            self.path.parent,
            watch_filter=lambda _change, name: Path(name).name in names,
            stop_event=self.stop,
            rust_timeout=_TICK_MS,
            yield_on_timeout=True,
            debounce=1600,
            step=100,
            recursive=False,
            force_polling=True if self.settings.watch_force_polling else None,
        ):
            self.check()

    def check(self) -> None:
        """Sync if the file differs from what sheetai last saw and nobody holds it open."""
        if self.stop.is_set():
            return
        locks = lock_files(self.path)
        if locks:
            self._waiting(locks[0].name)
            return
        self._told_locked = False
        mark = settled(self.path, self.settings.watch_settle_seconds, self.stop)
        if mark is None or (self._seen is not None and mark.same_stamp(self._seen)):
            return
        if self._seen is not None and mark.digest == self._seen.digest:
            self._seen = mark  # saved without a change (touch, a save with no edit)
            return
        if lock_files(self.path):  # opened while settling
            return
        self._sync(mark)

    def _waiting(self, lock: str) -> None:
        if not self._told_locked:
            self._told_locked = True
            self.report(
                WatchReport(
                    "waiting",
                    f"{self.path.name} is open in another program ({lock} beside it); "
                    "syncing when it is closed.",
                )
            )

    def _sync(self, before: FileMark) -> None:
        # What sheetai saw unless the sync ends well: a save during a failed sync differs
        # from it, so it is synced next; a broken file is not retried until saved again.
        self._seen = before
        try:
            with XlsxBackend(self.path) as backend:
                summary = capped_sync(backend, self.settings, self.options, self.listener)
        except RunInterrupted:
            raise
        except WorkbookLockedError:
            self._seen = None  # opened between the look and the write: sync once closed
            return
        except DailyCapReached as exc:
            self.report(WatchReport("refused", str(exc)))
            return
        except SheetAIError as exc:
            self.report(WatchReport("failed", str(exc)))
            return
        after = mark_of(self.path)
        self._seen = after if after is not None else before
        self.report(WatchReport("synced", summary=summary))
