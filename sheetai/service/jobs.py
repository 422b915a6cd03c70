"""Sync jobs, kept in the service's store (SQLite, or PostgreSQL shared by replicas).

A job is ``queued``, ``running``, ``done`` or ``failed``; its origin is the trigger that asked
for it (``button``, ``edit``, ``schedule``). The rules that make replicas safe are enforced here,
in locked transactions, so they hold whichever replica asks:

* a sheet has at most one job waiting to start: requests join it (an edit pushes its start to a
  quiet period from now, a click brings it forward), so a burst of edits is one sync;
* a job runs on one replica (its ``owner``) and only while no other job of its sheet runs — a
  unique index on running jobs per sheet backs this up;
* a running job carries a lease its replica renews; a job whose lease ran out (its replica died)
  is taken up by another, and the state tab makes the rerun do only the rows not yet saved.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.summary import StepSummary
from ..engine.sync import Listener
from ..errors import SheetAIError
from ..steps import Step
from ..stores import Store, StoreUnavailable
from ..stores.base import Transaction

__all__ = ["Job", "JobStore", "JobListener", "LeaseLost", "SyncFn"]

log = logging.getLogger("sheetai.service")

_COLUMNS = "id, sheet, step, force, status, progress, summary, error, origin, created, updated, due"
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, sheet TEXT NOT NULL, step TEXT,"
    " force INTEGER NOT NULL, status TEXT NOT NULL, progress TEXT NOT NULL, summary TEXT,"
    " error TEXT, origin TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,"
    " updated DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS jobs_sheet ON jobs (sheet, status)",
]
# Columns a jobs table made before replicas lacks (an old service.sqlite3 keeps working).
_ADDED = {
    "due": "DOUBLE PRECISION NOT NULL DEFAULT 0",  # when a queued job may start (unix seconds)
    "owner": "TEXT",  # the replica running it
    "lease": "DOUBLE PRECISION NOT NULL DEFAULT 0",  # until when its replica holds it
}
_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_running ON jobs (sheet) WHERE status = 'running'",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, due)",
]


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
    due: float = 0.0  # unix seconds after which a queued job may start

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


def _job(r: Sequence[Any]) -> Job:
    return Job(
        id=r[0], sheet=r[1], step=r[2], force=bool(r[3]), status=r[4],
        progress=json.loads(r[5]), summary=json.loads(r[6]) if r[6] else None, error=r[7],
        origin=r[8], created=float(r[9]), updated=float(r[10]), due=float(r[11]),
    )  # fmt: skip


def _select(tx: Transaction, where: str, args: Sequence[Any] = ()) -> list[Job]:
    return [_job(r) for r in tx.execute(f"SELECT {_COLUMNS} FROM jobs {where}", args)]


class JobStore:
    """Jobs in a :class:`~sheetai.stores.Store`; safe to share between threads and replicas."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(_SCHEMA)
        store.add_columns("jobs", _ADDED)
        store.ensure_schema(_INDEXES)

    @property
    def embedded(self) -> bool:
        return self.store.embedded

    def submit(self, sheet: str, step: str | None, force: bool, origin: str, quiet: float) -> Job:
        """The job that answers a request to sync ``sheet`` (see :class:`~.runner.JobRunner`)."""
        now = time.time()
        with self.store.transaction(lock=True) as tx:
            waiting = _select(
                tx, "WHERE sheet = ? AND status = 'queued' ORDER BY created", (sheet,)
            )
            if waiting:
                job = waiting[0]
                if origin != "edit":
                    job.due = min(job.due, now)
                elif job.origin == "edit":
                    job.due = max(job.due, now + quiet)
                tx.execute("UPDATE jobs SET due = ? WHERE id = ?", (job.due, job.id))
                return job
            running = _select(tx, "WHERE sheet = ? AND status = 'running'", (sheet,))
            if running and origin != "edit":
                return running[0]
            job = Job(uuid.uuid4().hex, sheet, step, force, origin=origin, created=now,
                      updated=now, due=now + (quiet if origin == "edit" else 0.0))  # fmt: skip
            tx.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, sheet, step, int(force), job.status, json.dumps(job.progress), None,
                 None, origin, now, now, job.due),
            )  # fmt: skip
        return job

    def claim(self, owner: str, lease_seconds: float) -> tuple[Job, bool] | None:
        """Take the next job this replica may run, and whether it is a resumed one.

        A running job whose lease ran out comes first (its replica died); then the queued job
        due first whose sheet is not running anywhere.
        """
        now = time.time()
        with self.store.transaction(lock=True) as tx:
            jobs = _select(
                tx,
                "WHERE status = 'running' AND lease < ? AND (owner IS NULL OR owner <> ?)"
                " ORDER BY created LIMIT 1",
                (now, owner),
            )
            resumed = bool(jobs)
            if not jobs:
                jobs = _select(
                    tx,
                    "WHERE status = 'queued' AND due <= ? AND sheet NOT IN"
                    " (SELECT sheet FROM jobs WHERE status = 'running') ORDER BY due, created"
                    " LIMIT 1",
                    (now,),
                )
            if not jobs:
                return None
            tx.execute(
                "UPDATE jobs SET status = 'running', owner = ?, lease = ?, updated = ?"
                " WHERE id = ?",
                (owner, now + lease_seconds, now, jobs[0].id),
            )
        jobs[0].status = "running"
        return jobs[0], resumed

    def renew(self, owner: str, lease_seconds: float) -> None:
        """Extend the leases of the jobs ``owner`` runs."""
        self.store.execute(
            "UPDATE jobs SET lease = ? WHERE owner = ? AND status = 'running'",
            (time.time() + lease_seconds, owner),
        )

    def release(self, job_id: str, owner: str) -> bool:
        """Give up a running job ``owner`` holds: any replica (``owner`` too) resumes it next."""
        rows = self.store.execute(
            "UPDATE jobs SET lease = 0, owner = NULL WHERE id = ? AND owner = ?"
            " AND status = 'running' RETURNING id",
            (job_id, owner),
        )
        return bool(rows)

    def expire_leases(self) -> list[Job]:
        """End every lease now: the jobs a killed service left running are taken up at once.

        Only for an embedded store, whose one service is the one starting.
        """
        with self.store.transaction(lock=True) as tx:
            jobs = _select(tx, "WHERE status = 'running'")
            tx.execute("UPDATE jobs SET lease = 0, owner = NULL WHERE status = 'running'")
        return jobs

    def next_due(self) -> float | None:
        """When the first queued job may start (unix seconds), None if none waits."""
        [(due,)] = self.store.execute("SELECT MIN(due) FROM jobs WHERE status = 'queued'")
        return float(due) if due is not None else None

    def get(self, job_id: str) -> Job | None:
        with self.store.transaction() as tx:
            jobs = _select(tx, "WHERE id = ?", (job_id,))
        return jobs[0] if jobs else None

    def for_sheet(self, sheet: str) -> list[Job]:
        """Every job of one sheet, oldest first."""
        with self.store.transaction() as tx:
            return _select(tx, "WHERE sheet = ? ORDER BY created", (sheet,))

    def unfinished(self) -> list[Job]:
        with self.store.transaction() as tx:
            return _select(tx, "WHERE status IN ('queued', 'running') ORDER BY created")

    def update(self, job_id: str, owner: str | None = None, **fields: Any) -> bool:
        """Set fields of a job (only while ``owner`` holds it, if given); False if it did not."""
        encoded = {
            k: json.dumps(v) if k in ("progress", "summary") and v is not None else v
            for k, v in fields.items()
        }
        encoded["updated"] = time.time()
        assignments = ", ".join(f"{k} = ?" for k in encoded)
        where, args = "id = ?", [job_id]
        if owner is not None:
            where, args = "id = ? AND owner = ?", [job_id, owner]
        rows = self.store.execute(
            f"UPDATE jobs SET {assignments} WHERE {where} RETURNING id", (*encoded.values(), *args)
        )
        return bool(rows)

    def ping(self) -> bool:
        return self.store.ping()

    def close(self) -> None:
        self.store.close()


class LeaseLost(SheetAIError):
    """A running sync's replica can no longer hold its job (see :class:`JobListener`)."""


class JobListener(Listener):
    """Keeps a job's progress in the store, at most every ``interval`` seconds.

    Progress is a courtesy: while the store is unreachable the sync goes on without it.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        interval: float = 0.5,
        lease_held: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.interval = interval
        # False once this replica may have lost the job to another (no renewal for most of a
        # lease): the sync then stops at its next rows, every answered row saved.
        self.lease_held = lease_held
        self.progress: dict[str, Any] = {"step": None, "done": 0, "total": 0}
        self._saved = 0.0

    def step_started(self, step: Step, total: int) -> None:
        self._check_lease()
        self.progress = {"step": step.name, "done": 0, "total": total}
        self._save(force=True)

    def rows_done(self, step: Step, count: int) -> None:
        self.progress["done"] += count
        self._check_lease()
        self._save()

    def _check_lease(self) -> None:
        if self.lease_held is not None and not self.lease_held():
            raise LeaseLost(
                "this replica could not renew the job's lease (the database is unreachable), so "
                "another replica may take the job: this sync stopped, every answered row saved."
            )

    def step_finished(self, summary: StepSummary) -> None:
        self._save(force=True)

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved >= self.interval:
            try:
                self.store.update(self.job_id, progress=dict(self.progress))
            except StoreUnavailable:
                return
            self._saved = now


#: Runs one job's sync and returns its summary (``RunSummary.to_json()``).
SyncFn = Callable[[Job, Listener], dict[str, Any]]
