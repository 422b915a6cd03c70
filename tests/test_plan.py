"""The planner on plain grids: which rows run, which are skipped and flagged, what a model reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sheetai.cell_values import CellError, Uncomputed
from sheetai.engine.columns import StepColumns
from sheetai.engine.plan import (
    Category,
    RowPlan,
    flag_updates,
    plan_rows,
    row_fingerprint,
    row_input,
)
from sheetai.row_outputs import RowOutputs
from sheetai.state import StateRecord

STEP = "step-fp"
# A: ID | B: Review | C: Sentiment | D: reasoning | E: confidence | F: flag (1-based columns)
FLAG = 6


def columns(inputs: dict[str, int], first_output: int) -> StepColumns:
    """Inputs and one value, reasoning, confidence and flag column from ``first_output`` on."""
    c = first_output
    return StepColumns([c], c + 1, c + 2, c + 3, inputs=inputs, gold=None, created={})


def answered_cells(value: str) -> RowOutputs:
    return RowOutputs.from_cells([value, "r", 0.9, None])


def plan(grid: list[list[Any]], records: dict[str, StateRecord] | None = None, **kw: Any):
    return plan_rows(
        grid,
        step_fingerprint=STEP,
        cols=columns({"Review": 2}, 3),
        records=records or {},
        **kw,
    )


def by_row(rows: list[RowPlan]) -> dict[int, Category]:
    return {r.row: r.category for r in rows}


HEADER = ["ID", "Review", "Sentiment", "Sentiment reasoning", "Sentiment confidence", "Flag"]


def test_error_values_are_skipped_with_a_flag_naming_the_error_whatever_the_backend() -> None:
    grid = [
        HEADER,
        [1, "great", None, None, None, None],
        [2, CellError("#N/A"), None, None, None, None],  # xlsx, xlwings after the read edge
        [3, "#DIV/0!", None, None, None, None],  # a backend that left the error as text
        [4, None, None, None, None, None],
    ]
    result = plan(grid)
    assert by_row(result.rows) == {
        2: Category.NEW,
        3: Category.INPUT_ERROR,
        4: Category.INPUT_ERROR,
        5: Category.BLANK,
    }
    assert [r.row for r in result.to_run()] == [2]
    assert flag_updates(result, grid, FLAG) == [
        (3, "ERROR: input Review is #N/A"),
        (4, "ERROR: input Review is #DIV/0!"),
    ]


def test_several_inputs_name_each_error_and_uncomputed_formulas_stay_unreadable() -> None:
    grid = [
        ["Title", "Body"],
        [CellError("#REF!"), CellError("#VALUE!")],
        [Uncomputed("=A1"), CellError("#N/A")],
    ]
    result = plan_rows(
        grid,
        step_fingerprint=STEP,
        cols=columns({"Title": 1, "Body": 2}, 3),
        records={},
    )
    assert by_row(result.rows) == {2: Category.INPUT_ERROR, 3: Category.UNREADABLE}
    assert flag_updates(result, grid, 6) == [
        (2, "ERROR: input Title is #REF!; input Body is #VALUE!")
    ]


def test_a_flag_already_written_is_not_rewritten_and_a_persons_note_is_kept() -> None:
    grid = [
        HEADER,
        [1, CellError("#N/A"), None, None, None, "ERROR: input Review is #N/A"],
        [2, CellError("#N/A"), None, None, None, "checking with finance"],
        [3, CellError("#N/A"), None, None, None, "LOW_CONFIDENCE"],
    ]
    assert flag_updates(plan(grid), grid, FLAG) == [(4, "ERROR: input Review is #N/A")]


def test_a_row_whose_error_is_fixed_runs_and_its_stale_flag_is_cleared_when_it_does_not() -> None:
    flagged = "ERROR: input Review is #N/A"
    answered = row_fingerprint(STEP, ["kept text"])
    record = StateRecord("s", answered, "ok", answered_cells("Positive"), "t")
    grid = [
        HEADER,
        [1, "now fixed", None, None, None, flagged],  # never answered: runs
        [2, "kept text", "Positive", "r", 0.9, flagged],  # back to what was answered
        [3, None, None, None, None, flagged],  # emptied instead of fixed
        [4, "typed over", "Neutral", None, None, flagged],  # a person's answer
    ]
    result = plan(grid, {answered: record})
    assert by_row(result.rows) == {
        2: Category.NEW,
        3: Category.UNCHANGED,
        4: Category.BLANK,
        5: Category.HUMAN_EDIT,
    }
    # Row 2 runs and gets a fresh flag from its answer; the others lose the stale one.
    assert flag_updates(result, grid, FLAG) == [(3, None), (4, None), (5, None)]


def test_an_error_row_answered_before_is_flagged_and_its_input_fixed_runs_again() -> None:
    before = row_fingerprint(STEP, ["first text"])
    record = StateRecord("s", before, "ok", answered_cells("Positive"), "t")
    grid = [HEADER, [1, CellError("#N/A"), "Positive", "r", 0.9, None]]
    assert by_row(plan(grid, {before: record}).rows) == {2: Category.INPUT_ERROR}
    grid[1][1] = "a different text"
    grid[1][5] = "ERROR: input Review is #N/A"
    assert by_row(plan(grid, {before: record}).rows) == {2: Category.CHANGED}


def test_inputs_are_shown_as_formatted_but_fingerprinted_raw() -> None:
    grid = [
        ["When", "Share", "Paid", "Note"],
        [datetime(2024, 1, 5), 0.125, True, 0.30000000000000004],
    ]
    cols = columns({"When": 1, "Share": 2, "Paid": 3, "Note": 4}, 5)
    kwargs: dict[str, Any] = dict(step_fingerprint=STEP, cols=cols, records={})
    plain = plan_rows(grid, **kwargs).rows[0]
    shown = plan_rows(grid, formats={(2, 1): "d-mmm-yy", (2, 2): "0.0%"}, **kwargs).rows[0]
    assert row_input(plain).text == "When: 2024-01-05\nShare: 0.125\nPaid: TRUE\nNote: 0.3"
    assert row_input(shown).text == "When: 5-Jan-24\nShare: 12.5%\nPaid: TRUE\nNote: 0.3"
    # Formats change what the model reads, never which rows re-run.
    assert shown.fingerprint == plain.fingerprint
    assert row_input(shown).inputs["Share"] == 0.125


def test_a_row_is_unchanged_while_its_cells_show_what_was_written_whatever_their_type() -> None:
    kept = row_fingerprint(STEP, ["kept text"])
    record = StateRecord("s", kept, "ok", answered_cells("Positive"), "t")
    grid = [
        HEADER,
        [1, "kept text", "Positive", "r", 0.9, None],  # as written
        [2, "kept text", "Positive ", "r", "0.90", None],  # as a backend hands it back
        [3, "kept text", "Negative", "r", 0.9, None],  # a person's answer
        [4, "kept text", "Positive", "r", 0.5, None],  # a person's confidence
        [5, "other text", "Positive", "r", 0.9, None],  # inputs changed: answered by sheetai
    ]
    assert by_row(plan(grid, {kept: record}).rows) == {
        2: Category.UNCHANGED,
        3: Category.UNCHANGED,
        4: Category.HUMAN_EDIT,
        5: Category.HUMAN_EDIT,
        6: Category.CHANGED,
    }
