"""What every spreadsheet backend must do, run against each backend in tests/backend_kinds.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sheetai import Settings, SyncOptions, sync
from sheetai.backends.base import CellBlock
from sheetai.state import STATE_TAB

from .backend_kinds import KINDS, Handle
from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step

DATA = [["ID", "Review", "Stars"], *[[i + 1, text, (i % 5) + 1] for i, text in enumerate(REVIEWS)]]


def trimmed(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows without trailing empty cells: backends differ only in how they pad."""
    out = []
    for row in rows:
        cells = [None if v == "" else v for v in row]
        while cells and cells[-1] is None:
            cells.pop()
        out.append(cells)
    while out and not out[-1]:
        out.pop()
    return out


@pytest.fixture(params=sorted(KINDS))
def workbook(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Handle]:
    sheets = {"Feedback": [list(r) for r in DATA], "sheetai": [CONFIG_HEADER, sentiment_step()]}
    with KINDS[request.param](tmp_path, sheets) as handle:
        yield handle


def test_titles_and_one_read_of_many_sheets(workbook: Handle) -> None:
    backend = workbook.open()
    assert backend.sheet_titles()[:2] == ["Feedback", "sheetai"]
    grids = backend.read(["Feedback", "sheetai", "Missing"])
    assert set(grids) == {"Feedback", "sheetai"}
    assert trimmed(grids["Feedback"]) == DATA
    backend.close()


def test_writes_land_only_on_commit_and_keep_types(workbook: Handle) -> None:
    backend = workbook.open()
    backend.write([CellBlock("Feedback", 1, 4, [["Score"], [0.75], ["=not a formula"], [True]])])
    backend.write([CellBlock("Feedback", 12, 2, [["past the end"]])])
    backend.commit()
    backend.close()
    rows = trimmed(workbook.values("Feedback"))
    assert [r[3] for r in rows[:4]] == ["Score", 0.75, "=not a formula", True]
    assert rows[11][1] == "past the end"
    assert rows[5][:3] == DATA[5]


def test_a_new_hidden_sheet_gets_its_values(workbook: Handle) -> None:
    backend = workbook.open()
    backend.add_sheet("_hidden", hidden=True)
    backend.add_sheet("visible")
    backend.write(
        [CellBlock("_hidden", 1, 1, [["a", "b"], [1, 2]]), CellBlock("visible", 1, 1, [["x"]])]
    )
    backend.commit()
    backend.close()
    assert workbook.hidden("_hidden") and not workbook.hidden("visible")
    assert trimmed(workbook.values("_hidden")) == [["a", "b"], [1, 2]]


def test_a_commit_with_nothing_to_write_is_harmless(workbook: Handle) -> None:
    backend = workbook.open()
    backend.commit()
    backend.close()
    assert trimmed(workbook.values("Feedback")) == DATA


def test_a_full_sync_and_a_no_change_resync(workbook: Handle) -> None:
    with workbook.open() as backend:
        first = sync(backend, Settings(), SyncOptions())
    assert first.total("processed") == len(REVIEWS)
    assert workbook.hidden(STATE_TAB)
    rows = trimmed(workbook.values("Feedback"))
    assert rows[0][3:7] == [
        "Sentiment",
        "Sentiment reasoning",
        "Sentiment confidence",
        "Sentiment flag",
    ]
    assert all(r[3] in {"Positive", "Neutral", "Negative"} for r in rows[1:])
    with workbook.open() as backend:
        second = sync(backend, Settings(), SyncOptions())
    assert second.total("processed") == 0
    assert second.total("skipped_unchanged") == len(REVIEWS)
