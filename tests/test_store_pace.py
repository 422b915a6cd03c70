# ruff: noqa: F811  (the PostgreSQL fixtures are imported from tests/postgres.py)
"""One pace per API key across replicas (``sheetai.stores.pace``), on SQLite and PostgreSQL,
in threads and in separate processes against a server that enforces the limit."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devservers.openai import FakeOpenAI
from sheetai.stores import Store
from sheetai.stores.pace import SharedPace, key_id
from sheetai.stores.postgres import PostgresStore
from sheetai.stores.sqlite import SqliteStore

from .postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> list[Store]:
    """Three connections to one database: three replicas."""
    if request.param == "sqlite":
        made: list[Store] = [SqliteStore(tmp_path / "pace.sqlite3") for _ in range(3)]
    else:
        url = request.getfixturevalue("postgres_url")
        made = [PostgresStore(url) for _ in range(3)]
    request.addfinalizer(lambda: [s.close() for s in made])
    return made


def test_a_fake_clock_grants_the_refill_and_no_more(tmp_path: Path) -> None:
    now = [1000.0]
    a, b = (SharedPace(SqliteStore(tmp_path / "p.sqlite3"), clock=lambda: now[0]) for _ in "ab")
    key = key_id("sk-1")
    taken = 0
    for _ in range(100):  # a full bucket: 2 % of a minute of 600 rpm is 12 requests
        if (a if taken % 2 else b).acquire(key, 1, rpm=1200, tpm=None) == 0:
            taken += 1
    # Never more than the bucket; a little less, as each replica holds a part of a slice.
    assert 9 <= taken <= 12
    wait = a.acquire(key, 1, rpm=1200, tpm=None)
    assert 0 < wait <= 60 / (1200 * 0.97)  # at most the time one request takes to refill
    now[0] += 60  # a minute later, a minute's worth (97 %) and the bucket are available
    more = sum(1 for i in range(1000) if (a, b)[i % 2].acquire(key, 1, rpm=1200, tpm=None) == 0)
    assert 9 <= more <= 13  # still capped by the bucket: it refills, it does not hoard
    # An oversized request goes when the bucket is full, and leaves a debt the next one waits on.
    assert a.acquire(key, 0, 5000, rpm=None, tpm=20_000) == 0
    assert b.acquire(key, 0, 100, rpm=None, tpm=20_000) > 0
    assert a.acquire(key_id("sk-2"), 1, rpm=600, tpm=None) == 0  # another key, another budget


def test_replicas_together_stay_under_the_limit_and_near_it(stores: list[Store]) -> None:
    minute_s, rpm, seconds = 3.0, 1200, 3.0  # 400 requests/s of budget, over 3 s
    paces = [SharedPace(s, minute_s=minute_s) for s in stores]
    key = key_id("sk-shared")
    sent: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()

    def replica(pace: SharedPace) -> None:
        while (now := time.monotonic()) < start + seconds:
            wait = pace.acquire(key, 1, rpm=rpm, tpm=None)
            if wait > 0:
                time.sleep(wait)
            else:
                with lock:
                    sent.append(now)

    threads = [threading.Thread(target=replica, args=(p,)) for p in paces for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ceiling = rpm * seconds / minute_s
    assert len(sent) <= ceiling  # never over the key's limit
    assert len(sent) >= 0.9 * ceiling  # and close to it


@pytest.mark.postgres
@pytest.mark.slow
def test_three_processes_sharing_a_key_meet_almost_no_429s(postgres_url: str) -> None:
    minute_s, rpm, seconds = 4.0, 600, 6.0
    with FakeOpenAI(rpm=rpm, window_s=minute_s) as server:
        schema = PostgresStore(postgres_url)
        SharedPace(schema)  # the table, before three processes race to it
        schema.close()
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.pace_worker",
                    postgres_url,
                    server.base_url,
                    str(rpm),
                    str(minute_s),
                    str(seconds),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
            )  # fmt: skip
            for _ in range(3)
        ]
        counts = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    sent = sum(c["sent"] for c in counts)
    limited = sum(c["limited"] for c in counts)
    ceiling = rpm * seconds / minute_s
    assert limited <= 0.01 * sent, counts
    assert sent - limited >= 0.8 * ceiling, counts  # startup of three processes eats a little


@pytest.mark.postgres
@pytest.mark.parametrize("vendor", ["anthropic", "gemini"])
def test_claude_and_gemini_runs_take_their_pace_from_the_shared_budget(
    vendor: str, tmp_path: Path, postgres_url: str
) -> None:
    """Replicas on PostgreSQL pace a Claude or Gemini key together, as an OpenAI one: a run's
    requests are drawn from the key's shared budget (its row in the store, named by a hash)."""
    from devservers.anthropic import FakeClaude
    from devservers.gemini import FakeGemini
    from sheetai.backends import open_backend
    from sheetai.engine.sync import SyncOptions, sync
    from sheetai.settings import Settings
    from sheetai.stores.pace import key_id
    from tests.conftest import column, make_workbook, read_sheet, sentiment_step

    fake = FakeClaude(api_key="sk-ant-test", rpm=600) if vendor == "anthropic" else FakeGemini()
    with fake as server:
        if vendor == "anthropic":
            model, key, base = "claude-haiku-4-5", "sk-ant-test", server.base_url
            settings = Settings(
                anthropic_base_url=base, anthropic_api_key=key, store=postgres_url,
                home=tmp_path / "home",
            )  # fmt: skip
        else:
            model, key = "gemini-2.5-flash", server.api_key
            base = server.base_url
            settings = Settings(
                gemini_base_url=base, gemini_api_key=key, gemini_rpm=600, store=postgres_url,
                home=tmp_path / "home",
            )  # fmt: skip
        data = [["ID", "Review"], *[[i, f"Positive {i}"] for i in range(8)]]
        path = make_workbook(tmp_path / "b.xlsx", data, [sentiment_step(Model=model)])
        with open_backend(str(path), settings) as backend:
            sync(backend, settings, SyncOptions())
        assert column(read_sheet(path), "Sentiment") == ["Positive"] * 8
    store = PostgresStore(postgres_url)
    try:
        keys = {row[0] for row in store.execute("SELECT key_id FROM pace")}
    finally:
        store.close()
    assert key_id(key, base) in keys and not any(key in k for k in keys)
