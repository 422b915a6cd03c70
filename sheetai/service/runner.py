"""Worker threads that run the store's jobs: claimed one at a time, leased while they run.

Each replica runs its own :class:`JobRunner`; they coordinate only through the
:class:`~.jobs.JobStore`, so any number of them may share one PostgreSQL database. A replica
that cannot reach the database stops taking jobs, logs it, reports it on ``/readyz`` and
resumes when the database answers again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from typing import Any

from ..errors import SheetAIError
from ..stores import StoreUnavailable
from .jobs import Job, JobListener, JobStore, LeaseLost, SyncFn

__all__ = ["JobRunner"]

log = logging.getLogger("sheetai.service")


class JobRunner:
    """Runs queued jobs with ``run_sync``; never two of one sheet at once, across replicas.

    A click (origin ``button``, ``schedule``) is due at once; an edit (origin ``edit``) is due
    ``quiet_seconds`` after the last edit request for its sheet, so a burst of edits is one sync.
    Each sheet has at most one job waiting to start: later requests join it, so a request made
    while the sheet syncs makes exactly one more run after it.

    Args:
        lease_seconds: how long a claimed job stays this replica's without a renewal; renewed
            every third of it. Another replica takes up a job whose lease ran out.
        poll_seconds: how often idle workers look for jobs other replicas queued.
    """

    def __init__(
        self,
        store: JobStore,
        run_sync: SyncFn,
        workers: int = 2,
        quiet_seconds: float = 10.0,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.run_sync = run_sync
        self.workers = workers
        self.quiet_seconds = quiet_seconds
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.online = True  # the store answered the last time it was asked
        self._renewed = time.monotonic()  # the leases were last known to be ours
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> list[Job]:
        """Start the workers; an embedded store's unfinished jobs are resumed at once."""
        resumed = self.store.expire_leases() if self.store.embedded else []
        for i in range(self.workers):
            self._spawn(self._work, f"sheetai-job-{i}")
        self._spawn(self._heartbeat, "sheetai-lease")
        return resumed

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def submit(self, sheet: str, step: str | None, force: bool, origin: str = "button") -> Job:
        """Queue a sync of ``sheet`` and return the job that will answer this request.

        That is the sheet's job waiting to start if there is one (an edit pushes its start back
        to a quiet period from now, a click brings it forward to now); else, for a click, the
        job running now; else a new job. Raises :class:`StoreUnavailable` without a database.
        """
        job = self.store.submit(sheet, step, force, origin, self.quiet_seconds)
        with self._cond:
            self._cond.notify_all()
        log.info("job queued", extra={"job_id": job.id, "sheet": sheet, "origin": origin})
        return job

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a sync in progress is left to finish or to be resumed."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _lost(self, error: StoreUnavailable) -> None:
        if self.online:
            self.online = False
            log.error("database unreachable: not taking jobs", extra={"error": str(error)})

    def _found(self) -> None:
        if not self.online:
            self.online = True
            log.warning("database reachable again: taking jobs")
            with self._cond:
                self._cond.notify_all()

    def lease_held(self) -> bool:
        """Whether this replica's leases were renewed recently enough that no other replica
        can have taken its jobs: a sync stops once they were not, with a fifth of a lease to
        save what it answered before another replica may start."""
        return time.monotonic() - self._renewed < 0.8 * self.lease_seconds

    def _heartbeat(self) -> None:
        """Renew this replica's leases, and notice the database leaving and coming back."""
        every = min(self.lease_seconds / 3, 1.0)
        while not self._stop.wait(every):
            try:
                self.store.renew(self.owner, self.lease_seconds)
            except StoreUnavailable as error:
                self._lost(error)
            else:
                self._renewed = time.monotonic()
                self._found()

    def _work(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            self._run(*taken)

    def _take(self) -> tuple[Job, bool] | None:
        """The next job this replica may run (marked running), or None once stopped."""
        while not self._stop.is_set():
            wait = self.poll_seconds
            if self.online:
                try:
                    taken = self.store.claim(self.owner, self.lease_seconds)
                    if taken is not None:
                        return taken
                    due = self.store.next_due()
                    if due is not None:
                        wait = min(wait, max(due - time.time(), 0.01))
                except StoreUnavailable as error:
                    self._lost(error)
            with self._cond:
                if not self._stop.is_set():
                    self._cond.wait(wait)
        return None

    def _run(self, job: Job, resumed: bool) -> None:
        started = time.monotonic()
        fields = {"job_id": job.id, "sheet": job.sheet, "origin": job.origin}
        log.info("job resumed" if resumed else "job started", extra=fields)
        try:
            listener = JobListener(self.store, job.id, lease_held=self.lease_held)
            summary = self.run_sync(job, listener)
        except LeaseLost as error:
            log.warning("job stopped: lease lost", extra={"job_id": job.id, "error": str(error)})
            self._release(job)
            return
        except SheetAIError as error:
            self._finish(job, status="failed", error=str(error))
            log.warning("job failed", extra={"job_id": job.id, "error": str(error)})
            return
        except Exception as exc:  # a bug must not kill the worker; the job says what happened
            self._finish(
                job, status="failed", error=f"internal error ({type(exc).__name__}): {exc}"
            )
            log.error("job crashed", extra={"job_id": job.id, "trace": traceback.format_exc()})
            return
        ended = time.time()  # before the job is marked done: no other run of its sheet yet
        self._finish(job, status="done", summary=summary)
        log.info(
            "job done",
            extra={"job_id": job.id, "seconds": round(time.monotonic() - started, 2),
                   "ended": ended},
        )  # fmt: skip

    def _release(self, job: Job) -> None:
        """Hand a job this replica stopped back to the store (once it answers), so that it is
        resumed, here or elsewhere: its state tab makes the rerun do only unsaved rows."""
        while True:
            try:
                self.store.release(job.id, self.owner)
                return
            except StoreUnavailable as error:
                self._lost(error)
                if self._stop.wait(1.0):
                    return

    def _finish(self, job: Job, **fields: Any) -> None:
        """Record the outcome, waiting for the database if it is away (until stopped)."""
        while True:
            try:
                if not self.store.update(job.id, owner=self.owner, **fields):
                    log.warning("job was taken over before it finished", extra={"job_id": job.id})
                return
            except StoreUnavailable as error:
                self._lost(error)
                if self._stop.wait(1.0):
                    return
