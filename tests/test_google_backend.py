"""The Google Sheets backend: real gspread + google-auth over HTTP against FakeSheets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devservers.sheets import FakeSheets, make_service_account
from sheetai import Settings, SyncOptions, sync
from sheetai.backends import open_backend
from sheetai.backends.google import GoogleSheetsBackend
from sheetai.cli.app import app
from sheetai.engine.runlog import LOG_TAB
from sheetai.errors import WorkbookError
from sheetai.state import STATE_TAB

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step

ACCOUNT = "sheetai-bot@test-project.iam.gserviceaccount.com"


def reviews(n: int) -> list[list[Any]]:
    return [
        ["ID", "Review"],
        *[[i + 1, f"{REVIEWS[i % len(REVIEWS)]} (order {i})"] for i in range(n)],
    ]


@pytest.fixture
def server() -> Iterator[FakeSheets]:
    with FakeSheets() as fake:
        yield fake


@pytest.fixture
def key_file(server: FakeSheets, tmp_path: Path) -> Path:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(make_service_account(server)))
    return path


def settings_for(server: FakeSheets, key_file: Path, **extra: Any) -> Settings:
    return Settings(google_api_url=server.url, google_credentials=key_file, **extra)


def add_book(server: FakeSheets, rows: list[list[Any]], share: bool = True) -> str:
    return server.add_spreadsheet(
        "Reviews",
        {"Feedback": rows, "sheetai": [CONFIG_HEADER, sentiment_step()]},
        share_with=[ACCOUNT] if share else [],
    )


def test_a_sync_costs_two_reads_and_few_writes_and_a_rerun_costs_no_write(
    server: FakeSheets, key_file: Path
) -> None:
    sid = add_book(server, reviews(120))
    settings = settings_for(server, key_file)
    server.reset_counters()
    with GoogleSheetsBackend(sid, settings) as backend:
        first = sync(backend, settings, SyncOptions())
    assert first.total("processed") == 120
    assert server.reads == 2
    assert server.calls["spreadsheets.get"] == 1 and server.calls["values.batchGet"] == 1
    # first commit: addSheet(state, hidden) + grow the CSV-sized grid, then the values; the
    # final commit: addSheet(log) + values.
    assert server.writes <= 4
    assert server.sheet_props(sid, STATE_TAB).get("hidden") is True
    rows = server.values(sid, "Feedback")
    assert rows[0] == [
        "ID",
        "Review",
        "Sentiment",
        "Sentiment reasoning",
        "Sentiment confidence",
        "Sentiment flag",
    ]
    assert all(r[2] in {"Positive", "Neutral", "Negative"} for r in rows[1:])
    assert all(isinstance(r[4], float) for r in rows[1:])  # numbers stay numbers
    assert isinstance(rows[1][0], int)
    assert server.values(sid, LOG_TAB)[1][1] == "sentiment"
    get = next(r for r in server.requests if r.endpoint == "values.batchGet")
    assert get.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]

    server.reset_counters()
    with GoogleSheetsBackend(sid, settings) as backend:
        again = sync(backend, settings, SyncOptions())
    assert again.total("processed") == 0 and again.total("skipped_unchanged") == 120
    assert sum(s.model_calls for s in again.steps) == 0
    assert (server.reads, server.writes) == (2, 0)


def test_human_edits_are_kept_and_new_rows_only_are_run(server: FakeSheets, key_file: Path) -> None:
    sid = add_book(server, reviews(10))
    settings = settings_for(server, key_file)
    with GoogleSheetsBackend(sid, settings) as backend:
        sync(backend, settings, SyncOptions())
    server.set_values(sid, "Feedback", [["Neutral"]], start="C2")
    server.set_values(sid, "Feedback", [[11, "Terrible, it broke after a day."]], start="A11")
    with GoogleSheetsBackend(sid, settings) as backend:
        second = sync(backend, settings, SyncOptions())
    assert second.total("processed") == 0 or second.total("processed") == 1
    assert second.total("kept_human_edits") == 1
    rows = server.values(sid, "Feedback")
    assert rows[1][2] == "Neutral"


def test_rows_appended_past_the_grid_are_written(server: FakeSheets, key_file: Path) -> None:
    """A CSV-sized grid: new rows (added by the user) and new output columns both fit."""
    sid = add_book(server, reviews(5))
    settings = settings_for(server, key_file)
    with GoogleSheetsBackend(sid, settings) as backend:
        sync(backend, settings, SyncOptions())
    assert server.sheet_props(sid, "Feedback")["gridProperties"]["columnCount"] == 6


def test_429_is_retried_with_backoff_and_said(
    server: FakeSheets, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sid = add_book(server, reviews(6))
    settings = settings_for(server, key_file)
    server.fail_next(2, 429, retry_after=0.01, kind="values.batchUpdate")
    with (
        caplog.at_level(logging.WARNING, "sheetai.google"),
        GoogleSheetsBackend(sid, settings) as backend,
    ):
        summary = sync(backend, settings, SyncOptions())
    assert summary.total("processed") == 6
    statuses = [r.status for r in server.requests if r.endpoint == "values.batchUpdate"]
    assert statuses[:3] == [429, 429, 200]
    assert sum("quota exceeded (429)" in m for m in caplog.messages) == 2


def test_retries_are_capped_and_the_error_says_what_to_do(
    server: FakeSheets, key_file: Path
) -> None:
    sid = add_book(server, reviews(3))
    settings = settings_for(server, key_file, google_max_retries=2)
    server.fail_next(10, 429, retry_after=0.01, kind="read")
    with pytest.raises(WorkbookError, match="quota exceeded.*Run again in a minute"):
        GoogleSheetsBackend(sid, settings).sheet_titles()
    assert server.calls["spreadsheets.get"] == 3


def test_a_500_is_retried(server: FakeSheets, key_file: Path) -> None:
    sid = add_book(server, reviews(3))
    backend = GoogleSheetsBackend(sid, settings_for(server, key_file))
    server.fail_next(1, 503, retry_after=0.01)
    assert backend.sheet_titles() == ["Feedback", "sheetai"]
    backend.close()


def test_no_access_names_the_account_to_share_with(server: FakeSheets, key_file: Path) -> None:
    sid = add_book(server, reviews(3), share=False)
    with pytest.raises(WorkbookError) as caught:
        GoogleSheetsBackend(sid, settings_for(server, key_file)).sheet_titles()
    assert ACCOUNT in str(caught.value) and "as Editor" in str(caught.value)
    assert sid in str(caught.value)


def test_a_disabled_sheets_api_says_to_enable_it(server: FakeSheets, key_file: Path) -> None:
    sid = add_book(server, reviews(3))
    google = (
        "Google Sheets API has not been used in project 123 before or it is disabled. Enable it "
        "by visiting the console then retry."
    )
    server.fail_next(1, 403, message=google)
    with pytest.raises(WorkbookError) as caught:
        GoogleSheetsBackend(sid, settings_for(server, key_file)).sheet_titles()
    assert "not enabled" in str(caught.value) and "has not been used in project 123" in str(
        caught.value
    )


def test_read_only_access_says_editor_is_needed(server: FakeSheets, key_file: Path) -> None:
    sid = add_book(server, reviews(3), share=False)
    server.share(sid, ACCOUNT, "reader")
    settings = settings_for(server, key_file)
    with (
        pytest.raises(WorkbookError, match="may read .* but not edit"),
        GoogleSheetsBackend(sid, settings) as backend,
    ):
        sync(backend, settings, SyncOptions())
    assert len(server.values(sid, "Feedback")[0]) == 2


def test_missing_credentials_say_how_to_give_them(
    server: FakeSheets, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gspread.auth

    for name in ("SERVICE_ACCOUNT", "AUTHORIZED_USER", "CREDENTIALS"):
        monkeypatch.setattr(gspread.auth, f"DEFAULT_{name}_FILENAME", tmp_path / f"{name}.json")
    with pytest.raises(WorkbookError, match="--credentials"):
        open_backend("https://docs.google.com/spreadsheets/d/" + "x" * 40 + "/edit", Settings())


def test_sheetai_run_on_a_google_sheets_url(
    server: FakeSheets, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = add_book(server, reviews(4))
    monkeypatch.setenv("SHEETAI_GOOGLE_API_URL", server.url)
    url = f"https://docs.google.com/spreadsheets/d/{sid}/edit#gid=0"
    result = CliRunner().invoke(app, ["run", url, "--credentials", str(key_file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["processed"] == 4
    assert server.values(sid, "Feedback")[0][2] == "Sentiment"


def test_a_config_error_names_the_cell_and_writes_nothing(
    server: FakeSheets, key_file: Path
) -> None:
    sid = server.add_spreadsheet(
        "Bad",
        {"Feedback": reviews(3), "sheetai": [CONFIG_HEADER, sentiment_step(Input="Revew")]},
        share_with=[ACCOUNT],
    )
    settings = settings_for(server, key_file)
    server.reset_counters()
    from sheetai.errors import ConfigError

    with (
        pytest.raises(ConfigError, match="Revew") as caught,
        GoogleSheetsBackend(sid, settings) as backend,
    ):
        sync(backend, settings, SyncOptions())
    assert caught.value.cell is not None and caught.value.cell.startswith("sheetai!")
    assert server.writes == 0


def test_engine_commits_are_merged_into_few_google_writes(
    server: FakeSheets, key_file: Path
) -> None:
    """30 engine commits (one per 5 rows) inside one commit interval: Google sees the first
    commit at once and the rest merged into one write at close, and every row lands."""
    n = 150
    sid = add_book(server, reviews(n))
    settings = settings_for(
        server, key_file, chunk_rows=5, chunk_seconds=0.0, google_commit_seconds=600
    )
    server.reset_counters()
    with GoogleSheetsBackend(sid, settings) as backend:
        summary = sync(backend, settings, SyncOptions())
        assert server.writes == 2  # the first commit: state tab + grid growth, then values
    assert summary.total("processed") == n
    assert server.reads == 2
    assert server.writes == 4  # close(): log tab + the merged values
    rows = server.values(sid, "Feedback")
    assert len(rows) == n + 1 and all(r[2] for r in rows[1:])
    state = server.values(sid, STATE_TAB)
    assert len([r for r in state[2:] if r and r[0] == "sentiment"]) == n
    server.reset_counters()
    with GoogleSheetsBackend(sid, settings) as backend:
        again = sync(backend, settings, SyncOptions())
    assert again.total("skipped_unchanged") == n and (server.reads, server.writes) == (2, 0)


def test_extracted_dates_land_as_dates(server: FakeSheets, key_file: Path) -> None:
    from devservers.openai import FakeOpenAI

    step = sentiment_step(
        Task="extract", Labels="when: date\nwho: text", Examples="", Model="gpt-4o-mini"
    )
    sid = server.add_spreadsheet(
        "Dates",
        {
            "Feedback": [["Review"], ["Delivered on 15 January 2024 to Ann"]],
            "sheetai": [CONFIG_HEADER, step],
        },
        share_with=[ACCOUNT],
    )
    answer = {"when": "2024-01-15", "who": "Ann", "reasoning": "The date is in the text."}
    with FakeOpenAI(answer=lambda body: answer) as openai_server:
        settings = settings_for(
            server, key_file, openai_base_url=openai_server.base_url, openai_api_key="sk-test"
        )
        with GoogleSheetsBackend(sid, settings) as backend:
            sync(backend, settings, SyncOptions())
        with GoogleSheetsBackend(sid, settings) as backend:
            again = sync(backend, settings, SyncOptions())
    assert again.steps[0].skipped_unchanged == 1 and again.steps[0].kept_human_edits == 0
    rows = server.values(sid, "Feedback")
    header = rows[0]
    assert rows[1][header.index("Sentiment when")] == 45306  # 2024-01-15 as a date serial
    assert rows[1][header.index("Sentiment who")] == "Ann"


def test_error_values_are_flagged_and_merged_output_cells_refused_before_any_model_call(
    server: FakeSheets, key_file: Path
) -> None:
    rows = [["ID", "Review"], [1, REVIEWS[0]], [2, "#N/A"], [3, REVIEWS[3]]]
    sid = add_book(server, rows)
    settings = settings_for(server, key_file)
    with GoogleSheetsBackend(sid, settings) as backend:
        summary = sync(backend, settings, SyncOptions())
    assert (summary.steps[0].processed, summary.steps[0].input_errors) == (2, 1)
    sheet = server.values(sid, "Feedback")
    assert sheet[2][2:] == ["", "", "", "ERROR: input Review is #N/A"]

    other = add_book(server, reviews(4))
    server.merge(other, "Feedback", "C3:C4")  # where the Sentiment column will go
    server.reset_counters()
    with (
        GoogleSheetsBackend(other, settings) as backend,
        pytest.raises(WorkbookError, match=r"Feedback!C3:C4 is merged"),
    ):
        sync(backend, settings, SyncOptions())
    assert server.writes == 0
    assert server.reads == 2  # the merges come with the metadata read anyway


def test_a_long_retry_after_is_capped_and_the_retries_still_end(
    server: FakeSheets, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quota that says "come back in ten minutes" costs at most 32 s a try, then an error."""
    from sheetai.backends.google_http import SheetsHTTPClient

    waits: list[float] = []
    monkeypatch.setattr(SheetsHTTPClient, "sleep", staticmethod(waits.append))
    sid = add_book(server, reviews(3))
    server.fail_next(10, 429, retry_after=600, kind="read")
    settings = settings_for(server, key_file, google_max_retries=3)
    with pytest.raises(WorkbookError, match="quota exceeded.*Run again in a minute"):
        GoogleSheetsBackend(sid, settings).sheet_titles()
    assert waits == [32.0, 32.0, 32.0]
