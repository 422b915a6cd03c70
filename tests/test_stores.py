"""The store layer on SQLite and a real PostgreSQL: the same code paths, the same answers.

Each "replica" below is its own store object (its own connection or pool) on one database.
"""

# ruff: noqa: F811  (the PostgreSQL fixtures are imported from tests/postgres.py)
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sheetai import Settings
from sheetai.cache import ResultCache
from sheetai.errors import ConfigError
from sheetai.service.jobs import JobStore
from sheetai.service.scheduler import ScheduleFires
from sheetai.stores import Store, StoreUnavailable, open_store, store_url
from sheetai.stores.postgres import PostgresStore
from sheetai.stores.sqlite import SqliteStore

from .postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)

Connect = Callable[[], Store]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Connect:
    """Opens one more connection to the test's database (SQLite file or PostgreSQL)."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = tmp_path / "shared.sqlite3"

        def make() -> Store:
            opened.append(SqliteStore(path))
            return opened[-1]
    else:
        url = request.getfixturevalue("postgres_url")

        def make() -> Store:
            opened.append(PostgresStore(url))
            return opened[-1]

    request.addfinalizer(lambda: [s.close() for s in opened])
    return make


def test_an_answer_paid_through_one_connection_is_found_through_another(connect: Connect) -> None:
    one, two = ResultCache(connect()), ResultCache(connect())
    one.put_many({"k1": {"label": "Positive"}, "k2": ["a", 1]})
    one.put("k1", {"label": "Negative"})  # a later answer replaces the first
    assert two.get_many(["k1", "k2", "nope"]) == {"k1": {"label": "Negative"}, "k2": ["a", 1]}
    assert two.get("nope") is None and len(two) == 2


def test_each_job_is_claimed_once_and_a_sheet_never_runs_twice(connect: Connect) -> None:
    replicas = [JobStore(connect()) for _ in range(3)]
    for i in range(6):
        replicas[i % 3].submit(f"sheet{i % 3}", None, False, "button", quiet=0)
    # A second click joins the sheet's waiting job; only three jobs exist.
    assert len({replicas[0].submit("sheet0", None, False, "button", 0).id}) == 1
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(store: JobStore, owner: str) -> None:
        for _ in range(10):
            taken = store.claim(owner, lease_seconds=30)
            if taken is not None:
                with lock:
                    claimed.append((taken[0].id, taken[0].sheet))

    threads = [threading.Thread(target=work, args=(s, f"r{i}")) for i, s in enumerate(replicas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 3 and len({job_id for job_id, _ in claimed}) == 3
    assert sorted(sheet for _, sheet in claimed) == ["sheet0", "sheet1", "sheet2"]
    # A click while its sheet runs joins the running job; an edit queues one more run, which
    # no replica may start while the first runs.
    running = replicas[1].submit("sheet0", None, False, "button", 0)
    assert running.status == "running"
    follow_up = replicas[1].submit("sheet0", None, False, "edit", 0)
    assert follow_up.status == "queued" and follow_up.id != running.id
    assert replicas[2].claim("r2", 30) is None
    assert not replicas[2].update(running.id, owner="nobody", status="done")  # not its job
    replicas[0].update(running.id, status="done")
    taken = replicas[2].claim("r2", 30)
    assert taken is not None and taken[0].id == follow_up.id


def test_a_job_whose_lease_runs_out_is_taken_up_by_another_replica(connect: Connect) -> None:
    a, b = JobStore(connect()), JobStore(connect())
    job = a.submit("sheet", None, False, "button", 0)
    assert a.claim("a", lease_seconds=0.3) is not None
    assert b.claim("b", lease_seconds=30) is None  # a holds it
    a.renew("a", 0.3)
    time.sleep(0.5)  # a died: no renewal
    taken = b.claim("b", lease_seconds=30)
    assert taken is not None and taken[0].id == job.id and taken[1] is True
    assert not a.update(job.id, owner="a", status="done")  # a's late word does not count
    assert b.update(job.id, owner="b", status="done")
    assert b.get(job.id).status == "done"  # type: ignore[union-attr]


def test_edits_coalesce_across_replicas(connect: Connect) -> None:
    a, b = JobStore(connect()), JobStore(connect())
    first = a.submit("sheet", None, False, "edit", quiet=5)
    again = b.submit("sheet", None, False, "edit", quiet=5)
    assert again.id == first.id and again.due >= first.due
    assert a.claim("a", 30) is None  # still in its quiet period
    click = b.submit("sheet", None, False, "button", quiet=5)
    assert click.id == first.id
    taken = a.claim("a", 30)
    assert taken is not None and taken[0].id == first.id


def test_a_scheduled_fire_is_claimed_once(connect: Connect) -> None:
    replicas = [ScheduleFires(connect()) for _ in range(3)]
    wins = [f.claim("sheet||0 2 * * *", 1_800_000_000.0, f"r{i}") for i, f in enumerate(replicas)]
    assert wins.count(True) == 1
    assert replicas[1].claim("sheet||0 2 * * *", 1_800_086_400.0, "r0")  # the next night


def test_an_old_jobs_file_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "service.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, sheet TEXT NOT NULL, step TEXT, force INTEGER"
            " NOT NULL, status TEXT NOT NULL, progress TEXT NOT NULL, summary TEXT, error TEXT,"
            " origin TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO jobs VALUES ('old', 'sheet', NULL, 0, 'running', '{}', NULL, NULL,"
            " 'button', 1, 1)"
        )
    db.close()
    store = JobStore(SqliteStore(path))
    taken = store.claim("new", 30)  # the job a killed old service left running
    assert taken is not None and taken[0].id == "old" and taken[1] is True
    store.close()


def test_the_store_setting_names_sqlite_or_postgresql(tmp_path: Path) -> None:
    assert store_url(Settings(home=tmp_path)) is None
    url = "postgresql://u:p@db/sheetai"
    assert store_url(Settings(home=tmp_path, store=url)) == url
    with pytest.raises(ConfigError, match="neither 'sqlite' nor a postgresql:// URL"):
        store_url(Settings(home=tmp_path, store="mysql://u:secret@db/x"))
    store = open_store(Settings(home=tmp_path), "cache")
    assert store.embedded and (tmp_path / "cache.sqlite3").exists()
    store.close()


@pytest.mark.postgres
def test_a_lost_database_is_an_error_not_a_hang(postgres_url: str) -> None:
    store = PostgresStore(postgres_url.rsplit(":", 1)[0] + ":1/nowhere", timeout=1)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.execute("SELECT 1")
    assert not store.ping()
    assert time.monotonic() - started < 10
    store.close()
