"""Read the ``sheetai review`` tab: the labels a person gave, checked before anyone uses them.

Quality control measures with these rows and the engine learns from them, so both read them
here, through :func:`read_reviews`, and both skip the same bad rows: a label that is not one of
the step's, a row the data sheet no longer holds, the same sheet row reviewed twice with
different labels, a review drawn for another version of the step. Each problem is one message
naming the review-tab cell; the tab itself is never changed, so nothing a person typed is lost.

Columns (found by header, so a person may reorder them): ``Step``, ``Row`` (the data sheet's
1-based row number), ``Input``, ``Answer``, ``Confidence``, ``Correct label``, ``Stratum``,
``Stratum rows`` (answered rows in that stratum when the sample was drawn, so quality control
can weight by the design) and ``Step version`` (:func:`review_version`). The last two were added
later; a tab without them is read as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import NamedTuple

from ..a1 import cell_address, quote_sheet
from ..backends.base import Grid
from ..headers import header_index
from ..steps import Step
from ..tabs import REVIEW_TAB
from ..text import cell_text, did_you_mean, is_blank, norm_header
from .columns import resolve_columns
from .grid import grid_get
from .plan import row_text

__all__ = ["REVIEW_HEADERS", "ReviewEntry", "read_reviews", "review_version"]

REVIEW_HEADERS = [
    "Step",
    "Row",
    "Input",
    "Answer",
    "Confidence",
    "Correct label",
    "Stratum",
    "Stratum rows",
    "Step version",
]
_REQUIRED = ("Step", "Input", "Correct label")
_NOT_USED = "this row is not measured or learnt from"


class ReviewEntry(NamedTuple):
    """One usable review of one step: a checked label for a row the data sheet still holds."""

    row: int  # the data sheet's row that holds this input now
    text: str  # the input as the model reads it
    label: str
    stratum: str
    stratum_rows: int | None  # answered rows in the stratum when drawn; None if not recorded
    where: str  # the Correct label cell, for messages
    answer: str  # the model's answer when the row was drawn (the Answer column), as written


def review_version(step: Step) -> str:
    """A short hash of what a reviewer's label means: the step's labels and instructions.

    Another model or new examples leave it alone (the labels still mean the same).

    >>> from sheetai.steps import Label, Step, Task
    >>> step = Step(name="s", sheet="F", inputs=["T"], task=Task.CLASSIFY, output="O",
    ...             labels=[Label(name="A"), Label(name="B")], model="local")
    >>> review_version(step) == review_version(step.model_copy(update={"model": "gpt-4.1"}))
    True
    >>> review_version(step) == review_version(step.model_copy(update={"instructions": "x"}))
    False
    """
    blob = json.dumps(
        {
            "labels": [label.model_dump() for label in step.labels],
            "instructions": step.instructions,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def _int(value: object) -> int | None:
    try:
        return int(float(cell_text(value)))
    except ValueError:
        return None


def _sheet_rows(step: Step, grid: Grid | None) -> tuple[dict[int, str], dict[str, int]] | None:
    """The data sheet's input text by row, and the first row of each text; None if unreadable."""
    if not grid:
        return {}, {}
    try:
        cols = resolve_columns(step, list(grid[0]))
    except KeyError:
        return None
    by_row: dict[int, str] = {}
    by_text: dict[str, int] = {}
    for row in range(2, len(grid) + 1):
        inputs = {name: grid_get(grid, row, col) for name, col in cols.inputs.items()}
        if all(is_blank(v) for v in inputs.values()):
            continue
        text = row_text(inputs)
        by_row[row] = text
        by_text.setdefault(text, row)
    return by_row, by_text


def _cells(where: list[str]) -> str:
    """``'sheetai review'!F3`` or ``'sheetai review'!F3 and 4 more``."""
    return where[0] + (f" and {len(where) - 1} more" if len(where) > 1 else "")


def read_reviews(grids: Mapping[str, Grid], step: Step, warnings: list[str]) -> list[ReviewEntry]:
    """The review tab's usable rows of ``step``, each matched to the data-sheet row it reviews.

    A row is matched by its ``Row`` when that row still holds the same input, else by the input
    text (the sheet may have been sorted). Rows that cannot be used are skipped, each problem
    added to ``warnings`` naming the review-tab cell; rows with no label yet are counted in one
    message.
    """
    grid = grids.get(REVIEW_TAB)
    if not grid:
        return []
    found = {name: col + 1 for name, col in header_index(grid[0]).items()}
    missing = [h for h in _REQUIRED if norm_header(h) not in found]
    if missing:
        warnings.append(
            f"{quote_sheet(REVIEW_TAB)}!A1: the review tab has no {', '.join(missing)} column; "
            "run `sheetai review` to make a new one."
        )
        return []
    col = {h: found.get(norm_header(h)) for h in REVIEW_HEADERS}
    sheet = _sheet_rows(step, grids.get(step.sheet))
    names = {norm_header(n): n for n in step.label_names}
    version = review_version(step)
    blank: list[str] = []
    other_version: list[str] = []
    chosen: dict[int, ReviewEntry] = {}
    conflicts: set[int] = set()
    tab = quote_sheet(REVIEW_TAB)
    for row in range(2, len(grid) + 1):
        if norm_header(grid_get(grid, row, col["Step"])) != norm_header(step.name):
            continue
        where = f"{tab}!{cell_address(row, col['Correct label'] or 1)}"
        value = grid_get(grid, row, col["Correct label"])
        if is_blank(value):
            blank.append(where)
            continue
        label = names.get(norm_header(value))
        if label is None:
            warnings.append(
                f"{where}: '{cell_text(value)}' is not a label of step '{step.name}'"
                f"{did_you_mean(cell_text(value), step.label_names)}; {_NOT_USED}."
            )
            continue
        drawn_for = cell_text(grid_get(grid, row, col["Step version"]))
        if drawn_for and drawn_for != version:
            other_version.append(f"{tab}!{cell_address(row, col['Step version'] or 1)}")
            continue
        text = cell_text(grid_get(grid, row, col["Input"]))
        sheet_row = _int(grid_get(grid, row, col["Row"]))
        if sheet is not None:
            by_row, by_text = sheet
            if sheet_row is None or by_row.get(sheet_row) != text:
                moved = by_text.get(text)
                if moved is None:
                    where_row = f"{tab}!{cell_address(row, col['Row'] or 1)}"
                    warnings.append(
                        f"{where_row}: row {cell_text(grid_get(grid, row, col['Row'])) or '?'} "
                        f"of '{step.sheet}' no longer holds this input, and no other row does; "
                        f"{_NOT_USED}."
                    )
                    continue
                sheet_row = moved
        key = sheet_row if sheet_row is not None else -row
        entry = ReviewEntry(
            key,
            text,
            label,
            cell_text(grid_get(grid, row, col["Stratum"])),
            _int(grid_get(grid, row, col["Stratum rows"])),
            where,
            cell_text(grid_get(grid, row, col["Answer"])),
        )
        first = chosen.get(key)
        if first is None:
            chosen[key] = entry
        elif first.label == entry.label:
            warnings.append(
                f"{where}: row {key} of '{step.sheet}' is reviewed twice (also at "
                f"{first.where}); counted once."
            )
        else:
            conflicts.add(key)
            warnings.append(
                f"{where}: row {key} of '{step.sheet}' is reviewed twice with different labels "
                f"('{first.label}' at {first.where}, '{entry.label}' here); {_NOT_USED}."
            )
    if other_version:
        warnings.append(
            f"{_cells(other_version)}: drawn for another version of step '{step.name}' (its "
            f"labels or instructions have changed since); {len(other_version)} reviewed rows "
            "are not measured or learnt from. If their labels still hold, clear those Step "
            "version cells; else run `sheetai review --replace`."
        )
    if blank:
        warnings.append(
            f"{_cells(blank)}: {len(blank)} rows of step '{step.name}' have no correct label "
            "yet; they are not measured or learnt from until one is chosen."
        )
    return [e for key, e in chosen.items() if key not in conflicts]
