"""The nightly refresh: the schedule file, and a scheduled sync through the service's jobs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from devservers.sheets import FakeSheets, make_service_account
from sheetai import Settings
from sheetai.errors import ConfigError
from sheetai.service import create_app
from sheetai.service.scheduler import load_schedule

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step

SID = "1" + "a" * 43


def test_the_schedule_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    assert load_schedule(path) == []
    path.write_text(json.dumps([
        {"sheet": f"https://docs.google.com/spreadsheets/d/{SID}/edit", "cron": "0 2 * * *"},
        {"sheet": SID, "cron": "30 6 * * 1-5", "step": "sentiment"},
    ]))  # fmt: skip
    entries = load_schedule(path)
    assert [(e.sheet, e.cron, e.step) for e in entries] == [
        (SID, "0 2 * * *", None),
        (SID, "30 6 * * 1-5", "sentiment"),
    ]
    path.write_text(json.dumps([{"sheet": SID, "cron": "0 2 * *"}]))
    with pytest.raises(ConfigError, match=r"schedule.json\[0\]: bad cron '0 2 \* \*'"):
        load_schedule(path)
    path.write_text(json.dumps([{"sheet": "feedback.xlsx", "cron": "0 2 * * *"}]))
    with pytest.raises(ConfigError, match="not a Google Sheets URL"):
        load_schedule(path)


def test_a_scheduled_refresh_syncs_and_an_unchanged_sheet_costs_two_reads(
    tmp_path: Path, sheetai_home: Path
) -> None:
    with FakeSheets() as sheets:
        info = make_service_account(sheets)
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(info))
        rows = [["ID", "Review"], *[[i, text] for i, text in enumerate(REVIEWS)]]
        sid = sheets.add_spreadsheet(
            "Nightly", {"Feedback": rows, "sheetai": [CONFIG_HEADER, sentiment_step()]},
            share_with=[info["client_email"]],
        )  # fmt: skip
        schedule = tmp_path / "schedule.json"
        schedule.write_text(json.dumps([{"sheet": sid, "cron": "0 2 * * *"}]))
        settings = Settings(
            home=sheetai_home, google_api_url=sheets.url, google_credentials=key_file,
            schedule_file=schedule,
        )  # fmt: skip
        with TestClient(create_app(settings)) as client:
            scheduler = client.app.state.sheetai["scheduler"]  # type: ignore[attr-defined]
            store = client.app.state.sheetai["store"]  # type: ignore[attr-defined]
            [(entry, next_run)] = scheduler.next_runs()
            assert entry.sheet == sid and (next_run.hour, next_run.minute) == (2, 0)
            for expected_processed in (len(REVIEWS), 0):
                sheets.reset_counters()
                scheduler.run_now()
                deadline = time.monotonic() + 60
                while True:
                    done = [j for j in store.for_sheet(sid) if j.status in ("done", "failed")]
                    if len(done) == (1 if expected_processed else 2):
                        break
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                last = max(done, key=lambda j: j.created)
                assert last.status == "done", last.error
                assert last.origin == "schedule"
                assert last.summary is not None
                assert last.summary["processed"] == expected_processed
            assert sum(s["model_calls"] for s in last.summary["steps"]) == 0
            assert sheets.reads <= 2 and sheets.writes == 0
