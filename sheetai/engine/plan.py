"""Decide, for every row of a step, whether it must run: a pure function of the sheet and state.

A row is matched to what sheetai wrote before by a fingerprint of its inputs and the step's
definition, never by position alone, so inserting, deleting or sorting rows mixes nothing up.
Whether its output cells still hold what sheetai wrote is told by their content signature.

Rows and columns are the sheet's 1-based numbers (header = row 1, column A = 1).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..cell_values import CellError, Uncomputed, as_cell_error
from ..display import display_text
from ..providers.base import RowInput
from ..state import RecordSignatures, StateRecord, signature, surely_same
from ..steps import Example
from ..text import cell_text, is_blank
from .columns import StepColumns
from .grid import row_get

__all__ = [
    "Category",
    "RowPlan",
    "StepPlan",
    "plan_rows",
    "row_keys",
    "row_fingerprint",
    "row_text",
    "row_input",
    "input_error_flag",
    "is_input_error_flag",
    "flag_updates",
    "FLAGS",
]


class Category(str, Enum):
    """Why a row runs, or why it does not."""

    NEW = "new"  # no answer yet
    CHANGED = "changed"  # inputs (or the step) changed since sheetai answered
    RETRY = "retry"  # failed or gave an invalid answer last time
    FORCED = "forced"  # --force re-runs what would be kept or skipped
    FLAGGED = "flagged"  # --only-flagged re-runs rows flagged for a person
    FILL = "fill"  # answered before for identical inputs: written again at no cost
    UNCHANGED = "unchanged"
    HUMAN_EDIT = "kept_human_edit"  # a person typed over sheetai's answer: never overwritten
    BLANK = "blank"  # no input at all
    UNREADABLE = "unreadable"  # an input formula has no computed value in the file
    INPUT_ERROR = "input_error"  # an input shows an error value (#N/A, #DIV/0!): flagged
    NOT_SELECTED = "not_selected"  # --only-flagged leaves rows without a flag alone
    PENDING = "batch_pending"  # sent in a Batch API job whose results are not collected yet
    RELEARN = "relearn"  # a stale answer re-answered by the model that learnt since (relearn.py)

    @property
    def runs(self) -> bool:
        return self in _RUNS


_RUNS = {
    Category.NEW,
    Category.CHANGED,
    Category.RETRY,
    Category.FORCED,
    Category.FLAGGED,
    Category.RELEARN,
}

FLAGS = ("LOW_CONFIDENCE", "INVALID_OUTPUT", "NEEDS_REVIEW", "BATCH_PENDING", "PENDING")
#: What an edit trigger (the Sheets add-on's "Sync automatically") writes in a flag cell while an
#: answer is on its way, or when it could not ask for one; a row that then does not run gets its
#: own flag back, so no mark outlives the sync it announced.
_EDIT_MARK = re.compile(r"^(PENDING|ERROR: sync not requested\b.*)$", re.DOTALL)
# Rows whose error flag stays: their answer overwrites it, or their input cannot be read yet.
_FLAG_KEPT = {Category.FILL, Category.PENDING, Category.UNREADABLE}
_UNUSUAL = (CellError, Uncomputed)
_INPUT_ERROR_FLAG = re.compile(r"^ERROR: input .+ is #[A-Z0-9/!?_]+")


@dataclass
class RowPlan:
    """One data row's decision. ``row`` is the sheet's row number (header = 1)."""

    row: int
    fingerprint: str
    category: Category
    inputs: dict[str, Any]
    record: StateRecord | None = None
    #: Number-format codes of the input cells that have one, by input name.
    formats: dict[str, str] = field(default_factory=dict)
    #: An unchanged answer given by a model that has learnt from new labelled rows since.
    stale: bool = False

    @property
    def text(self) -> str:
        """What the model reads for the row, the inputs shown as the sheet shows them."""
        return row_text(self.inputs, self.formats)


@dataclass
class StepPlan:
    rows: list[RowPlan] = field(default_factory=list)
    #: Rows a person labelled (gold column, review tab, kept edits): see ``learning.py``.
    training: list[Example] = field(default_factory=list)
    #: What the provider learns from this run (all of ``training``, chosen few-shot examples, or
    #: nothing), and its digest, kept on every state record this run writes.
    taught_by: list[Example] = field(default_factory=list)
    taught: str = ""

    @property
    def counts(self) -> Counter[Category]:
        return Counter(r.category for r in self.rows)

    def to_run(self) -> list[RowPlan]:
        return [r for r in self.rows if r.category.runs]

    def unique_to_run(self) -> list[RowPlan]:
        """One row per fingerprint: identical inputs are sent to the model once."""
        seen: set[str] = set()
        unique = []
        for plan in self.to_run():
            if plan.fingerprint not in seen:
                seen.add(plan.fingerprint)
                unique.append(plan)
        return unique


def row_fingerprint(step_fingerprint: str, values: Sequence[Any]) -> str:
    """A short hash of a row's input values under one step definition.

    It hashes the raw values, not the text a model reads (:func:`row_text`, which follows
    number formats): workbooks synced before inputs were shown formatted keep their answers
    instead of re-running every row, and re-formatting a column costs nothing.

    >>> row_fingerprint("s1", ["great", 3.0]) == row_fingerprint("s1", ["great ", "3"])
    True
    """
    texts = [v.strip() if type(v) is str else cell_text(v) for v in values]
    blob = "\x1e".join([step_fingerprint, *texts])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def row_text(inputs: Mapping[str, Any], formats: Mapping[str, str] | None = None) -> str:
    """The text a model reads for a row: the lone value, or ``Header: value`` lines.

    Values are shown as the sheet shows them (see :func:`~sheetai.display.display_text`):
    ``formats`` holds the number-format codes of the input cells that have one.

    >>> row_text({"Review": "late"})
    'late'
    >>> print(row_text({"Title": "Bug", "Paid": 0.125}, {"Paid": "0.0%"}))
    Title: Bug
    Paid: 12.5%
    """
    formats = formats or {}
    shown = {name: display_text(value, formats.get(name)) for name, value in inputs.items()}
    if len(shown) == 1:
        return next(iter(shown.values()))
    return "\n".join(f"{name}: {text}" for name, text in shown.items())


def input_error_flag(inputs: Mapping[str, Any]) -> str | None:
    """The flag of a row whose inputs show error values, or None when none does.

    >>> from sheetai.cell_values import CellError
    >>> input_error_flag({"ID": 7, "Review": CellError("#N/A")})
    'ERROR: input Review is #N/A'
    >>> input_error_flag({"Review": "fine"}) is None
    True
    """
    errors = [f"input {name} is {v}" for name, v in inputs.items() if isinstance(v, CellError)]
    return "ERROR: " + "; ".join(errors) if errors else None


def is_input_error_flag(value: Any) -> bool:
    """Whether a flag cell holds what :func:`input_error_flag` writes.

    >>> is_input_error_flag("ERROR: input Review is #DIV/0!"), is_input_error_flag("ERROR: 429")
    (True, False)
    """
    return isinstance(value, str) and bool(_INPUT_ERROR_FLAG.match(value))


def is_edit_mark(value: Any) -> bool:
    """Whether a flag cell holds an edit trigger's mark.

    >>> is_edit_mark("PENDING"), is_edit_mark("ERROR: sync not requested: 401"), is_edit_mark("ok")
    (True, True, False)
    """
    return isinstance(value, str) and bool(_EDIT_MARK.match(value.strip()))


def _sheetai_flag(value: Any) -> bool:
    text = cell_text(value)
    return text in FLAGS or text.startswith("ERROR: ")


def plan_rows(
    grid: Sequence[Sequence[Any]],
    *,
    step_fingerprint: str,
    cols: StepColumns,
    records: Mapping[str, StateRecord],
    force: bool = False,
    only_flagged: bool = False,
    formats: Mapping[tuple[int, int], str] | None = None,
) -> StepPlan:
    """Classify every data row of a sheet for one step.

    Args:
        grid: the sheet's values, header row first.
        step_fingerprint: :meth:`Step.fingerprint`.
        cols: the step's columns (:func:`~sheetai.engine.columns.resolve_columns`).
        records: the state records of this step, by fingerprint.
        force: re-run rows that would be kept as human edits or skipped as unchanged.
        only_flagged: run only rows whose flag column holds a flag (a cheap-model-first cascade).
        formats: number-format codes by ``(row, col)``
            (:meth:`~sheetai.backends.base.Backend.number_formats`), to show inputs as the sheet
            does.
    """
    owned_cols = cols.owned
    value_count = len(cols.values)
    signatures = RecordSignatures(records, len(owned_cols))
    blank_signature = signature([None] * len(owned_cols))
    plan = StepPlan()
    rows = plan.rows
    inputs_at = list(cols.inputs.items())
    # Only the input columns where some cell has a number format are looked up row by row.
    formats = formats or {}
    formatted = {col for _, col in formats}
    formats_at = [(name, col) for name, col in inputs_at if col in formatted]
    for index in range(1, len(grid)):
        row = grid[index]
        number = index + 1
        inputs, values, fingerprint = _row_key(row, step_fingerprint, cols, inputs_at)
        if _all_blank(values):
            rows.append(RowPlan(number, fingerprint, Category.BLANK, inputs))
            continue
        unusual = [v for v in values if isinstance(v, _UNUSUAL)]
        if unusual and any(isinstance(v, Uncomputed) for v in unusual):
            rows.append(RowPlan(number, fingerprint, Category.UNREADABLE, inputs))
            continue
        if unusual:
            # Like a blank input, never sent; unlike one, flagged, so nobody trusts an old
            # answer. The fingerprint holds the error text, so once it is fixed the row runs.
            rows.append(
                RowPlan(number, fingerprint, Category.INPUT_ERROR, inputs, records.get(fingerprint))
            )
            continue
        width = len(row)
        owned = [row[col - 1] if col <= width else None for col in owned_cols]
        record = records.get(fingerprint)
        if record is not None and record.status == "ok" and surely_same(owned, record.outputs.all):
            category = Category.UNCHANGED  # what _categorize says, without two signatures
        else:
            recorded = None if record is None else signatures.of(fingerprint, record)
            value_blank = _all_blank(owned[:value_count])
            current = signature(owned)
            category = _categorize(
                current, blank_signature, value_blank, record, signatures, recorded
            )
        if only_flagged and category is not Category.PENDING:
            flagged = not is_blank(row_get(row, cols.flag))
            if flagged and category in (Category.UNCHANGED, Category.RETRY):
                category = Category.FLAGGED
            elif category is not Category.HUMAN_EDIT:
                category = Category.NOT_SELECTED
        elif force and category in (Category.UNCHANGED, Category.HUMAN_EDIT, Category.FILL):
            category = Category.FORCED
        shown = {}
        if formats_at:
            for name, col in formats_at:
                code = formats.get((number, col))
                if code is not None:
                    shown[name] = code
        rows.append(RowPlan(number, fingerprint, category, inputs, record, shown))
    return plan


def _row_key(
    row: Sequence[Any],
    step_fingerprint: str,
    cols: StepColumns,
    inputs_at: list[tuple[str, int]] | None = None,
) -> tuple[dict[str, Any], list[Any], str]:
    """A data row's inputs by name, their values, and its fingerprint."""
    inputs = {}
    width = len(row)
    for name, col in cols.inputs.items() if inputs_at is None else inputs_at:
        value = row[col - 1] if col <= width else None
        # A backend that left an error as text (every error value starts with "#").
        if type(value) is str and "#" in value and value.lstrip()[:1] == "#":
            value = as_cell_error(value) or value
        inputs[name] = value
    values = list(inputs.values())
    return inputs, values, row_fingerprint(step_fingerprint, values)


def _all_blank(values: Sequence[Any]) -> bool:
    for value in values:
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return False
    return True


def row_keys(
    grid: Sequence[Sequence[Any]], *, step_fingerprint: str, cols: StepColumns
) -> tuple[set[str], bool]:
    """The fingerprints of every data row, and whether an input of some row cannot be read
    (a formula without a result, an error value): what forgetting old records needs, without
    classifying any row.
    """
    keys: set[str] = set()
    unreadable = False
    for index in range(1, len(grid)):
        _, values, fingerprint = _row_key(grid[index], step_fingerprint, cols)
        keys.add(fingerprint)
        if not unreadable and not all(is_blank(v) for v in values):
            unreadable = any(isinstance(v, CellError | Uncomputed) for v in values)
    return keys, unreadable


def flag_updates(
    plan: StepPlan, grid: Sequence[Sequence[Any]], flag_col: int
) -> list[tuple[int, Any]]:
    """``(row, flag)`` for the flag cells the plan changes without a model: input errors and
    edit marks.

    A row whose input shows an error gets :func:`input_error_flag`; a row whose error is gone,
    or that an edit trigger marked (:func:`is_edit_mark`), but which does not run (blank now,
    retyped unchanged, or kept) gets its own flag back. A person's own note in the flag column
    is left alone.
    """
    updates: list[tuple[int, Any]] = []
    height = len(grid)
    for row_plan in plan.rows:
        row = row_plan.row
        cells = grid[row - 1] if row <= height else ()
        current = cells[flag_col - 1] if flag_col <= len(cells) else None
        if row_plan.category is Category.INPUT_ERROR:
            flag = input_error_flag(row_plan.inputs)
            if cell_text(current) != flag and (is_blank(current) or _sheetai_flag(current)):
                updates.append((row, flag))
        elif current is None:
            continue  # most rows: no flag, nothing to give back
        elif (is_input_error_flag(current) or is_edit_mark(current)) and not (
            row_plan.category.runs or row_plan.category in _FLAG_KEPT
        ):
            kept = row_plan.record.outputs.flag if row_plan.record is not None else None
            updates.append((row, kept if row_plan.category is Category.UNCHANGED else None))
    return updates


def _categorize(
    current: str,
    blank: str,
    value_blank: bool,
    record: StateRecord | None,
    written: Container[str],
    recorded: str | None,
) -> Category:
    """``recorded`` is the record's signature of the owned cells (:meth:`owned_signature`)."""
    if record is not None and record.status == "pending" and (current == blank or value_blank):
        return Category.PENDING
    if record is not None and record.status == "ok":
        if current == recorded:
            return Category.UNCHANGED
        if current == blank or value_blank:
            return Category.FILL if record.fillable else Category.NEW
    elif record is not None and (  # failed or invalid last time
        current in (recorded, blank) or value_blank
    ):
        return Category.RETRY
    if current == blank or value_blank:
        return Category.NEW
    if current in written:
        return Category.CHANGED
    return Category.HUMAN_EDIT


def row_input(row_plan: RowPlan) -> RowInput:
    """What a provider is given for a row."""
    return RowInput(key=row_plan.fingerprint, text=row_plan.text, inputs=row_plan.inputs)
