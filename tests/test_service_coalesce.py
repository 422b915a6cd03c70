"""Sync on edit through the service: a burst of edit requests is one sync per sheet after a
quiet period, never two syncs of one sheet at once, one more run for requests made mid-sync."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devservers.sheets import FakeSheets, make_service_account
from sheetai import Settings
from sheetai.engine.daily_cap import DailySpend
from sheetai.engine.runlog import LOG_HEADERS, LOG_TAB
from sheetai.engine.sync import Listener
from sheetai.service import create_app
from sheetai.service.auth import sign
from sheetai.service.jobs import Job

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step

QUIET = 1.0
SHEETS = [f"{c}" * 30 for c in "ABC"]
SECRET = "a-sheet-secret-of-32-characters!"
TOKEN = "coalesce-test-token"


@dataclass
class Run:
    sheet: str
    origin: str
    started: float
    ended: float | None = None


@dataclass
class BlockingSync:
    """A sync that waits for ``release`` and records each run, and how many overlapped."""

    release: threading.Event = field(default_factory=threading.Event)
    runs: list[Run] = field(default_factory=list)
    most_at_once: dict[str, int] = field(default_factory=dict)
    _active: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, job: Job, listener: Listener) -> dict[str, Any]:
        run = Run(job.sheet, job.origin, time.monotonic())
        with self._lock:
            self.runs.append(run)
            self._active[job.sheet] = self._active.get(job.sheet, 0) + 1
            self.most_at_once[job.sheet] = max(
                self.most_at_once.get(job.sheet, 0), self._active[job.sheet]
            )
        assert self.release.wait(30), "the test never released the sync"
        with self._lock:
            self._active[job.sheet] -= 1
            run.ended = time.monotonic()
        return {"processed": 0}

    def of(self, sheet: str) -> list[Run]:
        with self._lock:
            return [r for r in self.runs if r.sheet == sheet]


@pytest.fixture
def fake_sync() -> BlockingSync:
    return BlockingSync()


@pytest.fixture
def client(tmp_path: Path, sheetai_home: Path, fake_sync: BlockingSync) -> Iterator[TestClient]:
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps(dict.fromkeys(SHEETS, SECRET)))
    settings = Settings(
        home=sheetai_home, service_token=TOKEN, sheet_secrets_file=secrets,
        schedule_file=tmp_path / "schedule.json", edit_quiet_seconds=QUIET,
    )  # fmt: skip
    with TestClient(create_app(settings, run_sync=fake_sync)) as test_client:
        yield test_client


def ask(client: TestClient, sheet: str, trigger: str | None = "edit") -> dict[str, str]:
    """A signed ``POST /v1/sync``, as the Apps Script sends it."""
    # A nonce, as the add-on sends: edits in the same second must not sign the same.
    wanted: dict[str, Any] = {"spreadsheet_id": sheet, "nonce": uuid.uuid4().hex}
    if trigger is not None:
        wanted["trigger"] = trigger
    body = json.dumps(wanted).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Sheetai-Sheet": sheet, "X-Sheetai-Timestamp": stamp,
        "X-Sheetai-Signature": sign(SECRET, stamp, body), "Content-Type": "application/json",
    }  # fmt: skip
    reply = client.post("/v1/sync", content=body, headers=headers)
    assert reply.status_code == 202, reply.text
    return reply.json()  # type: ignore[no-any-return]


def job(client: TestClient, job_id: str) -> dict[str, Any]:
    reply = client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def wait_until(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_burst_of_edits_is_one_sync_after_the_quiet_period(
    client: TestClient, fake_sync: BlockingSync
) -> None:
    fake_sync.release.set()
    replies = []
    for _ in range(10):  # typing down a column
        replies.append(ask(client, SHEETS[0]))
        time.sleep(0.05)
    last_edit = time.monotonic()
    assert len({r["job_id"] for r in replies}) == 1
    assert {r["status"] for r in replies} == {"queued"}
    wait_until(lambda: job(client, replies[0]["job_id"])["status"] == "done")
    [run] = fake_sync.of(SHEETS[0])
    assert run.started >= last_edit + QUIET - 0.2  # it waited for the edits to stop
    assert run.origin == "edit"
    assert job(client, replies[0]["job_id"])["trigger"] == "edit"

    # The next burst is the next quiet period's one sync.
    again = {ask(client, SHEETS[0])["job_id"] for _ in range(3)}
    assert len(again) == 1 and again != {replies[0]["job_id"]}
    wait_until(
        lambda: len(fake_sync.of(SHEETS[0])) == 2 and job(client, *again)["status"] == "done"
    )


def test_bursts_for_several_sheets_are_one_sync_per_sheet(
    client: TestClient, fake_sync: BlockingSync
) -> None:
    fake_sync.release.set()
    by_sheet: dict[str, set[str]] = {s: set() for s in SHEETS}
    for _ in range(5):  # ten people editing three sheets
        for sheet in SHEETS:
            by_sheet[sheet].add(ask(client, sheet)["job_id"])
    assert all(len(ids) == 1 for ids in by_sheet.values())
    ids = [next(iter(by_sheet[s])) for s in SHEETS]
    assert len(set(ids)) == 3
    wait_until(lambda: all(job(client, i)["status"] == "done" for i in ids))
    assert [len(fake_sync.of(s)) for s in SHEETS] == [1, 1, 1]


def test_edits_during_a_sync_make_exactly_one_more_run_after_it(
    client: TestClient, fake_sync: BlockingSync
) -> None:
    sheet = SHEETS[1]
    first = ask(client, sheet, trigger=None)  # the Sync button: no quiet period
    wait_until(lambda: len(fake_sync.of(sheet)) == 1)
    assert fake_sync.of(sheet)[0].origin == "button"
    assert job(client, first["job_id"])["status"] == "running"
    # A click while it runs joins it, as before.
    assert ask(client, sheet, trigger="button")["job_id"] == first["job_id"]

    during = [ask(client, sheet) for _ in range(6)]
    follow_up = {r["job_id"] for r in during}
    assert len(follow_up) == 1 and first["job_id"] not in follow_up
    time.sleep(QUIET + 0.5)  # quiet, but the sheet is still syncing: the follow-up waits
    assert len(fake_sync.of(sheet)) == 1
    assert job(client, *follow_up)["status"] == "queued"

    fake_sync.release.set()
    wait_until(lambda: job(client, *follow_up)["status"] == "done")
    runs = fake_sync.of(sheet)
    assert [r.origin for r in runs] == ["button", "edit"]
    assert runs[1].started >= runs[0].ended  # type: ignore[operator]
    assert fake_sync.most_at_once[sheet] == 1
    assert job(client, first["job_id"])["status"] == "done"


def test_a_click_does_not_wait_for_the_quiet_period_of_pending_edits(
    client: TestClient, fake_sync: BlockingSync
) -> None:
    fake_sync.release.set()
    edit = ask(client, SHEETS[2])
    asked = time.monotonic()
    click = ask(client, SHEETS[2], trigger="button")
    assert click["job_id"] == edit["job_id"]
    wait_until(lambda: job(client, edit["job_id"])["status"] == "done")
    [run] = fake_sync.of(SHEETS[2])
    assert run.started < asked + QUIET


def test_an_edit_sync_writes_the_sheet_and_logs_its_trigger_and_the_daily_cap_refuses(
    tmp_path: Path, sheetai_home: Path
) -> None:
    with FakeSheets() as sheets:
        account = make_service_account(sheets)
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(account))
        rows = [["ID", "Review"], *[[i, text] for i, text in enumerate(REVIEWS)]]
        sid = sheets.add_spreadsheet(
            "Edits", {"Feedback": rows, "sheetai": [CONFIG_HEADER, sentiment_step()]},
            share_with=[account["client_email"]],
        )  # fmt: skip
        secrets = tmp_path / "secrets.json"
        secrets.write_text(json.dumps({sid: SECRET}))
        settings = Settings(
            home=sheetai_home, google_api_url=sheets.url, google_credentials=key_file,
            service_token=TOKEN, sheet_secrets_file=secrets,
            schedule_file=tmp_path / "schedule.json", edit_quiet_seconds=0.2,
            auto_max_cost_usd_per_day=0.5,
        )  # fmt: skip
        with TestClient(create_app(settings)) as client:
            edited = ask(client, sid)["job_id"]
            wait_until(lambda: job(client, edited)["status"] in ("done", "failed"), 120)
            assert job(client, edited)["summary"]["processed"] == len(REVIEWS)
            log = sheets.values(sid, LOG_TAB)
            assert log[0][-1] == "Trigger" and len(log[0]) == len(LOG_HEADERS)
            assert log[1][-1] == "edit"

            spend = DailySpend.in_home(sheetai_home)
            spend.add(f"https://docs.google.com/spreadsheets/d/{sid}/edit", 0.5)
            spend.close()
            refused = ask(client, sid)["job_id"]
            wait_until(lambda: job(client, refused)["status"] in ("done", "failed"), 120)
            failed = job(client, refused)
            assert failed["status"] == "failed"
            assert "today's cap $0.5000" in failed["error"] and "(edit)" in failed["error"]
            clicked = ask(client, sid, trigger="button")["job_id"]
            wait_until(lambda: job(client, clicked)["status"] in ("done", "failed"), 120)
            assert job(client, clicked)["status"] == "done"
