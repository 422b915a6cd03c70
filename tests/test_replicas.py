"""Three ``sheetai serve`` replicas on one PostgreSQL database, the local Sheets server and the
local OpenAI-compatible server: each sheet synced by one replica at a time, a killed replica's
job finished by another, one answer cache, scheduled refreshes fired once."""

# ruff: noqa: F811  (the PostgreSQL fixtures are imported from tests/postgres.py)
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devservers.openai import FakeOpenAI
from devservers.sheets import FakeSheets, make_service_account
from sheetai import Settings
from sheetai.engine.sync import Listener
from sheetai.service import create_app
from sheetai.service.jobs import Job
from sheetai.state import STATE_TAB

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step
from .postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)
from .replicas import Cluster

pytestmark = pytest.mark.postgres
LABELS = {"Positive", "Neutral", "Negative"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeSheets, FakeOpenAI, dict[str, str]]]:
    """The Sheets and OpenAI servers, and the environment a replica needs to use them."""
    with FakeSheets() as sheets, FakeOpenAI(latency_ms=100) as openai:
        info = make_service_account(sheets)
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(info))
        env = {
            "SHEETAI_GOOGLE_API_URL": sheets.url, "SHEETAI_GOOGLE_CREDENTIALS": str(key_file),
            "SHEETAI_GOOGLE_COMMIT_SECONDS": "0", "SHEETAI_CHUNK_ROWS": "10",
            "OPENAI_BASE_URL": openai.base_url, "OPENAI_API_KEY": "sk-test",
            "SHEETAI_OPENAI_CONCURRENCY": "4", "SHEETAI_JOB_LEASE_SECONDS": "2",
            "SHEETAI_SERVICE_ACCOUNT_EMAIL": info["client_email"],
        }  # fmt: skip
        yield sheets, openai, env


def add_sheet(sheets: FakeSheets, env: dict[str, str], name: str, n: int) -> str:
    rows = [["ID", "Review"], *[[i, f"{REVIEWS[i % 8]} ({name} #{i})"] for i in range(n)]]
    step = sentiment_step(Model="gpt-4.1-mini")
    return sheets.add_spreadsheet(  # type: ignore[no-any-return]
        name, {"Feedback": rows, "sheetai": [CONFIG_HEADER, step]},
        share_with=[env["SHEETAI_SERVICE_ACCOUNT_EMAIL"]],
    )  # fmt: skip


def chat_requests(openai: FakeOpenAI) -> int:
    return sum(n for path, n in openai.requests_by_path.items() if "chat" in path)


def labelled(sheets: FakeSheets, sid: str) -> list[str]:
    values = sheets.values(sid, "Feedback")
    column = values[0].index("Sentiment")
    return [row[column] for row in values[1:]]


def _stamp(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["ts"]).timestamp()


@pytest.mark.slow
def test_a_burst_for_ten_sheets_syncs_each_once_at_a_time(
    world: tuple[FakeSheets, FakeOpenAI, dict[str, str]], postgres_url: str, tmp_path: Path
) -> None:
    sheets, openai, env = world
    sids = [add_sheet(sheets, env, f"Book{i}", 6) for i in range(10)]
    with Cluster(postgres_url, tmp_path, env) as cluster, ThreadPoolExecutor(16) as pool:
        asks = [(r, sid) for sid in sids for r in cluster.replicas]  # every replica, every sheet
        replies = list(
            pool.map(lambda a: cluster.post(a[0], "/v1/sync", {"spreadsheet_id": a[1]}), asks)
        )
        jobs = cluster.wait_done({r["job_id"] for r in replies})
        assert {j["status"] for j in jobs.values()} == {"done"}
        started = cluster.events("job started")
        ended = {e["job_id"]: e["ended"] for _, e in cluster.events("job done")}
    for sid in sids:
        runs = sorted((_stamp(e), ended[e["job_id"]]) for _, e in started if e["sheet"] == sid)
        assert runs, sid
        for (_, end), (start, _) in zip(runs, runs[1:], strict=False):
            assert start >= end - 0.002, f"{sid} synced twice at once: {runs}"
        assert set(labelled(sheets, sid)) <= LABELS and "" not in labelled(sheets, sid)
    assert len({i for i, _ in started}) >= 2  # the replicas shared the work
    assert chat_requests(openai) == 60  # every row answered once


@pytest.mark.slow
def test_an_answer_paid_on_one_replica_is_free_on_another(
    world: tuple[FakeSheets, FakeOpenAI, dict[str, str]], postgres_url: str, tmp_path: Path
) -> None:
    _, openai, env = world
    items = [
        {"text": text, "labels": ["Positive", "Negative"], "model": "gpt-4.1-mini"}
        for text in REVIEWS[:5]
    ]
    with Cluster(postgres_url, tmp_path, env, count=2) as cluster:
        first = cluster.post(cluster.replicas[0], "/v1/classify", {"items": items})["results"]
        paid = chat_requests(openai)
        again = cluster.post(cluster.replicas[1], "/v1/classify", {"items": items})["results"]
    assert paid == 5 and not any(r["cached"] for r in first)
    assert all(r["cached"] for r in again) and chat_requests(openai) == paid
    assert [r["label"] for r in again] == [r["label"] for r in first]


@pytest.mark.slow
def test_a_killed_replicas_job_is_finished_by_another(
    world: tuple[FakeSheets, FakeOpenAI, dict[str, str]], postgres_url: str, tmp_path: Path
) -> None:
    sheets, openai, env = world
    n = 120
    sid = add_sheet(sheets, env, "Big", n)
    with Cluster(postgres_url, tmp_path, env) as cluster:
        job_id = cluster.post(cluster.replicas[0], "/v1/sync", {"spreadsheet_id": sid})["job_id"]
        deadline = time.monotonic() + 120
        while (
            len(sheets.values(sid, STATE_TAB) if STATE_TAB in sheets.sheet_titles(sid) else []) < 22
        ):
            assert time.monotonic() < deadline, "no rows saved"
            time.sleep(0.02)
        [(owner, _)] = [(i, e) for i, e in cluster.events("job started") if e["job_id"] == job_id]
        cluster.replicas[owner].kill()
        saved = len(sheets.values(sid, STATE_TAB)) - 2
        assert cluster.job(job_id)["status"] == "running"
        job = cluster.wait_done({job_id})[job_id]
        resumed = cluster.events("job resumed")
    assert job["status"] == "done", job
    assert [i for i, e in resumed if e["job_id"] == job_id] != [owner]
    assert job["summary"]["skipped_unchanged"] >= saved
    assert set(labelled(sheets, sid)) <= LABELS and len(labelled(sheets, sid)) == n
    # Rows answered before the kill were in the shared cache: only requests in flight at the
    # kill (at most the 4 the key's concurrency allows) were sent again.
    assert n <= chat_requests(openai) <= n + 4


class Recording:
    """A sync that records which sheets it ran."""

    def __init__(self) -> None:
        self.sheets: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, job: Job, listener: Listener) -> dict[str, Any]:
        with self.lock:
            self.sheets.append(job.sheet)
        return {"processed": 0}


def test_a_scheduled_refresh_fires_once_across_replicas(postgres_url: str, tmp_path: Path) -> None:
    sids = ["A" * 30, "B" * 30]
    schedule = tmp_path / "schedule.json"
    schedule.write_text(json.dumps([{"sheet": s, "cron": "0 2 * * *"} for s in sids]))
    synced = Recording()
    apps = [
        create_app(
            Settings(home=tmp_path / f"home{i}", store=postgres_url, schedule_file=schedule),
            run_sync=synced,
        )
        for i in range(3)
    ]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b, TestClient(apps[2]) as c:
        schedulers = [x.app.state.sheetai["scheduler"] for x in (a, b, c)]  # type: ignore[attr-defined]
        store = a.app.state.sheetai["store"]  # type: ignore[attr-defined]
        night = datetime(2026, 12, 7, 2, 0, 3).astimezone()
        for moment in (night, night.replace(second=40)):  # two timers, one 02:00 refresh
            threads = [threading.Thread(target=s.fire, args=(moment,)) for s in schedulers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        deadline = time.monotonic() + 30
        while sorted(synced.sheets) != sids:
            assert time.monotonic() < deadline, synced.sheets
            time.sleep(0.05)
        time.sleep(0.5)
        assert sorted(synced.sheets) == sids
        assert [len(store.for_sheet(s)) for s in sids] == [1, 1]
