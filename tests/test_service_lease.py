"""A replica that cannot renew its job's lease stops the sync before another replica may take
the job, and hands the job back so that it is resumed (here or elsewhere)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sheetai.engine.sync import Listener
from sheetai.service.jobs import Job, JobStore
from sheetai.service.runner import JobRunner
from sheetai.steps import Step, Task
from sheetai.stores import StoreUnavailable
from sheetai.stores.sqlite import SqliteStore

LEASE = 1.5
STEP = Step(
    name="s",
    sheet="S",
    inputs=["Review"],
    task=Task.CLASSIFY,
    instructions="",
    output="Out",
    model="local",
)


class Flaky(JobStore):
    """A job store whose lease renewals fail while ``down`` is set (the database away)."""

    down = threading.Event()

    def renew(self, owner: str, lease_seconds: float) -> None:
        if self.down.is_set():
            raise StoreUnavailable("connection refused")
        super().renew(owner, lease_seconds)


def test_a_sync_whose_lease_cannot_be_renewed_stops_and_its_job_is_resumed(
    tmp_path: Path,
) -> None:
    store = Flaky(SqliteStore(tmp_path / "jobs.sqlite3"))
    runs: list[dict[str, Any]] = []

    def run_sync(job: Job, listener: Listener) -> dict[str, Any]:
        record: dict[str, Any] = {"job": job.id, "rows": 0, "stopped": None}
        runs.append(record)
        listener.step_started(STEP, 100)
        try:
            for _ in range(100):  # a row every 50 ms: five seconds in all
                time.sleep(0.05)
                listener.rows_done(STEP, 1)
                record["rows"] += 1
        except Exception as error:  # what the engine sees: it saves its rows and re-raises
            record["stopped"] = time.monotonic()
            raise error
        return {"processed": record["rows"]}

    runner = JobRunner(store, run_sync, workers=1, lease_seconds=LEASE, poll_seconds=0.05)
    runner.start()
    try:
        job = runner.submit("sheet-1", None, False)
        deadline = time.monotonic() + 5
        while not runs and time.monotonic() < deadline:
            time.sleep(0.01)
        cut = time.monotonic()
        Flaky.down.set()  # the database goes away mid-sync
        while runs[0]["stopped"] is None and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped = runs[0]["stopped"]
        assert stopped is not None, "the sync went on without its lease"
        # Stopped before the lease can have run out for another replica.
        assert stopped - cut < LEASE, stopped - cut
        assert runs[0]["rows"] < 100
        Flaky.down.clear()  # back: the job is handed back and resumed
        while len(runs) < 2 and time.monotonic() < deadline + 10:
            time.sleep(0.01)
        assert len(runs) == 2 and runs[1]["job"] == job.id
        while store.get(job.id).status != "done" and time.monotonic() < deadline + 20:  # type: ignore[union-attr]
            time.sleep(0.05)
        assert store.get(job.id).status == "done"  # type: ignore[union-attr]
    finally:
        Flaky.down.clear()
        runner.stop()
