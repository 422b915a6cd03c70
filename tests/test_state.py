"""The hidden state tab keeps its format: a workbook saved by any earlier sheetai reads back
exactly, and is written back cell for cell."""

from __future__ import annotations

import json

from sheetai.row_outputs import RowOutputs
from sheetai.state import STATE_HEADERS, StateRecord, StateStore

# As written before outputs became a named type: a flat JSON list, flag last (steps sorted).
SAVED = [
    ["sheetai state v1", json.dumps({"batches": [{"id": "b1"}]}), "", "", ""],
    STATE_HEADERS,
    ["invoice", "fp2", "ok", '["ACME", 12.5, "read it", 0.8, "LOW_CONFIDENCE"]', "t"],
    ["sentiment", "fp1", "ok", '["Positive", "why", 0.9, null]', "2024-01-01T00:00:00Z"],
]


def test_a_saved_state_tab_reads_into_named_outputs_and_writes_back_unchanged() -> None:
    store = StateStore.from_grid([list(r) for r in SAVED])
    first = store.for_step("sentiment")["fp1"].outputs
    assert first == RowOutputs(["Positive"], "why", 0.9, None)
    second = store.for_step("invoice")["fp2"].outputs
    assert second.values == ["ACME", 12.5] and second.flag == "LOW_CONFIDENCE"
    assert store.to_grid() == SAVED


def test_a_damaged_row_is_dropped_and_costs_only_its_own_rerun() -> None:
    grid = [list(r) for r in SAVED] + [["sentiment", "fp3", "ok", "{not json", "t"]]
    grid.append(["sentiment", "fp4", "ok", '"a string"', "t"])
    store = StateStore.from_grid(grid)
    assert set(store.for_step("sentiment")) == {"fp1"}
    # The tab keeps its size: the dropped rows are blanked, not left behind.
    assert len(store.to_grid()) == len(grid)


def test_any_row_json_reads_back_as_it_did_and_only_malformed_ones_are_dropped() -> None:
    rows = {
        "fp5": '["Positive", null, 0.9, null] trailing',  # dropped: more than one value
        "fp6": '{"a": 1}',  # dropped: not a list
        "fp7": "",  # an empty cell: no outputs
        "fp8": '["ERROR: 429"]',  # short: the flag stays last
        "fp9": '[NaN, "why", 1e400, null]',  # JSON's own extensions
    }
    grid = [list(r) for r in SAVED] + [["sentiment", k, "failed", v, "t"] for k, v in rows.items()]
    records = StateStore.from_grid(grid).for_step("sentiment")
    assert set(records) == {"fp1", "fp7", "fp8", "fp9"}
    assert records["fp7"].outputs == RowOutputs([], None, None, None)
    assert records["fp8"].outputs == RowOutputs([], None, None, "ERROR: 429")
    assert records["fp9"].outputs.reasoning == "why" and records["fp9"].outputs.confidence > 1e300


def test_what_a_model_was_taught_by_is_kept_in_a_sixth_column_once_there_is_any() -> None:
    store = StateStore.from_grid([list(r) for r in SAVED])
    store.for_step("sentiment")["fp1"].taught = "0123456789abcdef"
    grid = store.to_grid()
    assert grid[1] == [*STATE_HEADERS, "taught"] and [len(r) for r in grid] == [6] * 4
    again = StateStore.from_grid(grid)
    assert again.for_step("sentiment")["fp1"].taught == "0123456789abcdef"
    assert again.for_step("invoice")["fp2"].taught == ""  # taught by nothing
    assert again.to_grid() == grid


def _apply(tab: list[list], store: StateStore) -> int:
    """Write the store's changes onto ``tab`` as a backend would; returns the rows written."""
    write = store.changes()
    count = 0
    for first, rows in write.blocks:
        for offset, cells in enumerate(rows):
            index = first - 1 + offset
            while len(tab) <= index:
                tab.append([])
            tab[index] = list(cells)
            count += 1
    store.written(write)
    return count


def test_only_the_rows_that_changed_are_written_and_the_tab_reads_back_the_same() -> None:
    tab = [list(r) for r in SAVED] + [["sentiment", "fp3", "ok", "{not json", "t"]]
    store = StateStore.from_grid([list(r) for r in tab])
    assert _apply(tab, store) == 1  # only the damaged row, blanked
    assert _apply(tab, store) == 0  # nothing changed: nothing written
    records = store.for_step("sentiment")
    records["fp1"].outputs = RowOutputs(["Negative"], "because", 0.4, "LOW_CONFIDENCE")
    del store.for_step("invoice")["fp2"]
    records["fp9"] = StateRecord("sentiment", "fp9", "ok", RowOutputs(["Positive"], "", 0.9, None))
    assert _apply(tab, store) == 3  # fp1 changed, fp2 blanked, fp9 appended
    again = StateStore.from_grid(tab)
    assert set(again.for_step("sentiment")) == {"fp1", "fp9"}
    assert again.for_step("sentiment")["fp1"].outputs.values == ["Negative"]
    assert again.for_step("invoice") == {}
    assert again.extras == store.extras


def test_a_save_that_failed_is_written_again() -> None:
    tab = [list(r) for r in SAVED]
    store = StateStore.from_grid([list(r) for r in tab])
    store.for_step("sentiment")["fp1"].status = "failed"
    assert store.changes().blocks  # computed, but the save failed: never marked written
    assert _apply(tab, store) == 1
    assert StateStore.from_grid(tab).for_step("sentiment")["fp1"].status == "failed"
