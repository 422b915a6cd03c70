"""The log tab: one row per step per run, appended; an older tab's header is extended."""

from __future__ import annotations

from datetime import datetime, timezone

from sheetai.backends.memory import MemoryBackend
from sheetai.engine.runlog import LOG_HEADERS, LOG_TAB, append_log, header_outdated, log_rows
from sheetai.engine.summary import RunSummary, StepSummary
from sheetai.engine.workbook import Workbook


def _summary() -> RunSummary:
    step = StepSummary(step="sentiment", sheet="Feedback", model="local", processed=4)
    step.cost_usd, step.seconds = 0.02, 2.0
    return RunSummary(workbook="memory", steps=[step])


def test_a_row_per_step_with_what_it_did() -> None:
    row = log_rows(_summary(), now=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))[0]
    by_header = dict(zip(LOG_HEADERS, row, strict=True))
    assert by_header["When (UTC)"] == "2024-05-01 12:00:00"
    assert by_header["Processed"] == 4
    assert by_header["Rows/s"] == 2.0
    assert by_header["Cost per row (USD)"] == 0.005


def test_the_tab_is_made_with_its_header_then_appended_to() -> None:
    backend = MemoryBackend({"Feedback": [["Review"]]})
    book = Workbook(steps=[], grids=dict(backend.sheets), titles=backend.sheet_titles())
    append_log(backend, book, _summary())
    backend.commit()
    assert LOG_TAB in book.titles and (LOG_TAB, False) in backend.new_sheets
    assert backend.sheets[LOG_TAB][0] == LOG_HEADERS
    book.grids[LOG_TAB] = backend.sheets[LOG_TAB]
    append_log(backend, book, _summary())
    backend.commit()
    assert len(backend.sheets[LOG_TAB]) == 3


def test_an_older_header_is_extended_and_the_rows_kept() -> None:
    old = [LOG_HEADERS[:14], ["2023-01-01 00:00:00", "sentiment"]]
    assert header_outdated(old[0]) and not header_outdated(LOG_HEADERS)
    backend = MemoryBackend({LOG_TAB: old})
    book = Workbook(steps=[], grids={LOG_TAB: old}, titles=[LOG_TAB])
    append_log(backend, book, _summary())
    backend.commit()
    assert backend.sheets[LOG_TAB][0] == LOG_HEADERS
    assert backend.sheets[LOG_TAB][1][:2] == ["2023-01-01 00:00:00", "sentiment"]
    assert backend.sheets[LOG_TAB][2][1] == "sentiment"


def test_the_last_column_says_which_trigger_started_the_run() -> None:
    assert LOG_HEADERS[-1] == "Trigger"
    assert log_rows(_summary())[0][-1] == "cli"
    assert log_rows(_summary(), trigger="edit")[0][-1] == "edit"


def test_a_log_tab_written_before_the_trigger_column_keeps_working() -> None:
    before = LOG_HEADERS[: LOG_HEADERS.index("Trigger")]
    old_row = ["2025-01-01 00:00:00", "sentiment", "Feedback", "local", *[0] * (len(before) - 4)]
    old = [before, old_row]
    backend = MemoryBackend({LOG_TAB: [list(r) for r in old]})
    book = Workbook(steps=[], grids={LOG_TAB: old}, titles=[LOG_TAB])
    append_log(backend, book, _summary(), trigger="watch")
    backend.commit()
    tab = backend.sheets[LOG_TAB]
    assert tab[0] == LOG_HEADERS
    assert tab[1][: len(old_row)] == old_row and not any(tab[1][len(old_row) :])
    assert dict(zip(LOG_HEADERS, tab[2], strict=True))["Trigger"] == "watch"
