"""Sync jobs: kept in SQLite under ``SHEETAI_HOME``, run by worker threads, one per sheet at a time.

A job is ``queued``, ``running``, ``done`` or ``failed``; its origin is the trigger that asked
for it (``button``, ``edit``, ``schedule``). A sheet is never synced by two jobs at once and
has at most one job waiting: requests for it join that job (see :class:`JobRunner`), and an
edit waits for a quiet period, so a burst of edits is one sync and one more after a running one.
Jobs left ``queued`` or ``running`` by a stopped or killed service are queued again when it
starts: the sync engine's state tab makes the rerun do only the rows not yet saved.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.summary import StepSummary
from ..engine.sync import Listener
from ..errors import SheetAIError
from ..sqlite import open_store
from ..steps import Step

__all__ = ["Job", "JobStore", "JobRunner", "JobListener", "SyncFn"]

log = logging.getLogger("sheetai.service")

_COLUMNS = "id, sheet, step, force, status, progress, summary, error, origin, created, updated"


@dataclass
class Job:
    """One sync of one sheet."""

    id: str
    sheet: str
    step: str | None = None
    force: bool = False
    status: str = "queued"
    progress: dict[str, Any] = field(default_factory=lambda: {"step": None, "done": 0, "total": 0})
    summary: dict[str, Any] | None = None
    error: str | None = None
    origin: str = "button"  # the trigger: "button", "edit", "schedule"
    created: float = 0.0
    updated: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``GET /v1/jobs/{id}`` body."""
        return {
            "job_id": self.id,
            "spreadsheet_id": self.sheet,
            "status": self.status,
            "progress": self.progress,
            "summary": self.summary,
            "error": self.error,
            "trigger": self.origin,
        }


class JobStore:
    """Jobs in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_store(
            path,
            [
                "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, sheet TEXT NOT NULL,"
                " step TEXT, force INTEGER NOT NULL, status TEXT NOT NULL, progress TEXT NOT NULL,"
                " summary TEXT, error TEXT, origin TEXT NOT NULL, created REAL NOT NULL,"
                " updated REAL NOT NULL)",
                "CREATE INDEX IF NOT EXISTS jobs_sheet ON jobs (sheet, status)",
            ],
        )

    def create(self, sheet: str, step: str | None, force: bool, origin: str) -> Job:
        now = time.time()
        job = Job(uuid.uuid4().hex, sheet, step, force, origin=origin, created=now, updated=now)
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, sheet, step, int(force), job.status, json.dumps(job.progress), None,
                 None, origin, now, now),
            )  # fmt: skip
        return job

    def get(self, job_id: str) -> Job | None:
        rows = self._select("WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def for_sheet(self, sheet: str) -> list[Job]:
        """Every job of one sheet, oldest first."""
        return self._select("WHERE sheet = ? ORDER BY created", (sheet,))

    def unfinished(self) -> list[Job]:
        return self._select("WHERE status IN ('queued', 'running') ORDER BY created", ())

    def update(self, job_id: str, **fields: Any) -> None:
        encoded = {
            k: json.dumps(v) if k in ("progress", "summary") and v is not None else v
            for k, v in fields.items()
        }
        encoded["updated"] = time.time()
        assignments = ", ".join(f"{k} = ?" for k in encoded)
        with self._lock, self._db:
            self._db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?", (*encoded.values(), job_id)
            )

    def ping(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1").fetchone() == (1,)

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs {where}", args).fetchall()
        return [
            Job(
                id=r[0],
                sheet=r[1],
                step=r[2],
                force=bool(r[3]),
                status=r[4],
                progress=json.loads(r[5]),
                summary=json.loads(r[6]) if r[6] else None,
                error=r[7],
                origin=r[8],
                created=r[9],
                updated=r[10],
            )  # fmt: skip
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class JobListener(Listener):
    """Keeps a job's progress in the store, at most every ``interval`` seconds."""

    def __init__(self, store: JobStore, job_id: str, interval: float = 0.5) -> None:
        self.store = store
        self.job_id = job_id
        self.interval = interval
        self.progress: dict[str, Any] = {"step": None, "done": 0, "total": 0}
        self._saved = 0.0

    def step_started(self, step: Step, total: int) -> None:
        self.progress = {"step": step.name, "done": 0, "total": total}
        self._save(force=True)

    def rows_done(self, step: Step, count: int) -> None:
        self.progress["done"] += count
        self._save()

    def step_finished(self, summary: StepSummary) -> None:
        self._save(force=True)

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved >= self.interval:
            self.store.update(self.job_id, progress=dict(self.progress))
            self._saved = now


#: Runs one job's sync and returns its summary (``RunSummary.to_json()``).
SyncFn = Callable[[Job, Listener], dict[str, Any]]


class JobRunner:
    """Worker threads that run queued jobs with ``run_sync``, never two of one sheet at once.

    A job may start once its due time has passed and no job of its sheet is running. A click
    (origin ``button``, ``schedule``) is due at once; an edit (origin ``edit``) is due
    ``quiet_seconds`` after the last edit request for its sheet, so a burst of edits is one sync.
    Each sheet has at most one job waiting to start: later requests join it, so a request made
    while the sheet syncs makes exactly one more run after it.
    """

    def __init__(
        self, store: JobStore, run_sync: SyncFn, workers: int = 2, quiet_seconds: float = 10.0
    ) -> None:
        self.store = store
        self.run_sync = run_sync
        self.workers = workers
        self.quiet_seconds = quiet_seconds
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._due: dict[str, tuple[float, str]] = {}  # waiting job id -> (monotonic due, sheet)
        self._waiting: dict[str, str] = {}  # sheet -> its job waiting to start
        self._running: dict[str, str] = {}  # sheet -> its job running now

    def start(self) -> list[Job]:
        """Queue the jobs a previous run left unfinished, then start the workers."""
        resumed = self.store.unfinished()
        with self._cond:
            for job in resumed:
                self.store.update(job.id, status="queued")
                self._wait(job, time.monotonic())
                log.info("job resumed", extra={"job_id": job.id, "sheet": job.sheet})
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"sheetai-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return resumed

    def submit(self, sheet: str, step: str | None, force: bool, origin: str = "button") -> Job:
        """Queue a sync of ``sheet`` and return the job that will answer this request.

        That is the sheet's job waiting to start if there is one (an edit pushes its start back
        to a quiet period from now, a click brings it forward to now); else, for a click, the
        job running now; else a new job.
        """
        now = time.monotonic()
        with self._cond:
            waiting = self._waiting.get(sheet)
            if waiting is not None:
                due, _ = self._due[waiting]
                if origin != "edit":
                    due = min(due, now)
                elif self.store.get(waiting).origin == "edit":  # type: ignore[union-attr]
                    due = max(due, now + self.quiet_seconds)
                self._due[waiting] = (due, sheet)
                self._cond.notify_all()
                return self.store.get(waiting)  # type: ignore[return-value]
            running = self._running.get(sheet)
            if running is not None and origin != "edit":
                return self.store.get(running)  # type: ignore[return-value]
            job = self.store.create(sheet, step, force, origin)
            self._wait(job, now + (self.quiet_seconds if origin == "edit" else 0.0))
            self._cond.notify_all()
        log.info("job queued", extra={"job_id": job.id, "sheet": sheet, "origin": origin})
        return job

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a sync in progress is left to finish or to resume at next start."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _wait(self, job: Job, due: float) -> None:
        self._due[job.id] = (due, job.sheet)
        self._waiting[job.sheet] = job.id

    def _work(self) -> None:
        while True:
            job = self._take()
            if job is None:
                return
            try:
                self._run(job)
            finally:
                with self._cond:
                    del self._running[job.sheet]
                    self._cond.notify_all()

    def _take(self) -> Job | None:
        """The next job that may start (marked running), or None once stopped."""
        with self._cond:
            while not self._stop.is_set():
                now = time.monotonic()
                free = [(due, i) for i, (due, s) in self._due.items() if s not in self._running]
                ready = [(due, i) for due, i in free if due <= now]
                if not ready:
                    self._cond.wait(min([due - now for due, _ in free] + [0.5]))
                    continue
                _, job_id = min(ready)
                _, sheet = self._due.pop(job_id)
                if self._waiting.get(sheet) == job_id:
                    del self._waiting[sheet]
                job = self.store.get(job_id)
                if job is None or job.status not in ("queued", "running"):
                    continue
                self._running[sheet] = job_id
                self.store.update(job_id, status="running")
                job.status = "running"
                return job
        return None

    def _run(self, job: Job) -> None:
        started = time.monotonic()
        log.info("job started", extra={"job_id": job.id, "sheet": job.sheet, "origin": job.origin})
        try:
            summary = self.run_sync(job, JobListener(self.store, job.id))
        except SheetAIError as error:
            self.store.update(job.id, status="failed", error=str(error))
            log.warning("job failed", extra={"job_id": job.id, "error": str(error)})
            return
        except Exception as exc:  # a bug must not kill the worker; the job says what happened
            self.store.update(
                job.id, status="failed", error=f"internal error ({type(exc).__name__}): {exc}"
            )
            log.error("job crashed", extra={"job_id": job.id, "trace": traceback.format_exc()})
            return
        self.store.update(job.id, status="done", summary=summary)
        log.info(
            "job done",
            extra={"job_id": job.id, "seconds": round(time.monotonic() - started, 2)},
        )
