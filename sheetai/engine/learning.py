"""The rows a person labelled, as examples a provider may learn from.

Labels come from three places: a ``<Output> (gold)`` column, the ``sheetai review`` tab's
``Correct label`` column, and answers a person typed over sheetai's. Rows and columns are the
sheet's 1-based numbers (header = row 1, column A = 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ..a1 import cell_address, quote_sheet
from ..backends.base import Grid
from ..headers import header_index
from ..steps import Example, Step
from ..tabs import REVIEW_TAB
from ..text import cell_text, did_you_mean, is_blank, norm_header
from .columns import StepColumns
from .grid import grid_get
from .plan import Category, StepPlan, row_text

__all__ = [
    "REVIEW_TAB",
    "REVIEW_HEADERS",
    "ReviewEntry",
    "review_entries",
    "reviewed_labels",
    "reviewed_examples",
    "training_examples",
]

REVIEW_HEADERS = ["Step", "Row", "Input", "Answer", "Confidence", "Correct label", "Stratum"]


class ReviewEntry(NamedTuple):
    """One filled row of the review tab, for one step."""

    row: int | None  # the data sheet's row the review says it was drawn from
    text: str  # the input as the model read it
    label: str
    stratum: str
    where: str  # the Correct label cell, for warnings


def review_entries(grid: Grid | None, step: Step, warnings: list[str]) -> list[ReviewEntry]:
    """The review tab's filled rows of ``step``; problems are added to ``warnings``.

    A label that is not one of the step's is skipped with a warning naming its cell.
    """
    if not grid:
        return []
    found = {name: col + 1 for name, col in header_index(grid[0]).items()}
    missing = [h for h in ("Step", "Input", "Correct label") if norm_header(h) not in found]
    if missing:
        warnings.append(
            f"{quote_sheet(REVIEW_TAB)}!A1: the review tab has no {', '.join(missing)} column; "
            "run `sheetai review` to make a new one."
        )
        return []
    col = {h: found.get(norm_header(h)) for h in REVIEW_HEADERS}
    names = {norm_header(n): n for n in step.label_names}
    entries = []
    for row in range(2, len(grid) + 1):
        if norm_header(grid_get(grid, row, col["Step"])) != norm_header(step.name):
            continue
        value = grid_get(grid, row, col["Correct label"])
        if is_blank(value):
            continue
        where = f"{quote_sheet(REVIEW_TAB)}!{cell_address(row, col['Correct label'] or 1)}"
        label = names.get(norm_header(value))
        if label is None:
            warnings.append(
                f"{where}: '{cell_text(value)}' is not a label of step '{step.name}'"
                f"{did_you_mean(cell_text(value), step.label_names)}; row skipped."
            )
            continue
        try:
            row_number: int | None = int(float(cell_text(grid_get(grid, row, col["Row"]))))
        except ValueError:
            row_number = None
        text = cell_text(grid_get(grid, row, col["Input"]))
        stratum = cell_text(grid_get(grid, row, col["Stratum"]))
        entries.append(ReviewEntry(row_number, text, label, stratum, where))
    return entries


def reviewed_labels(grids: Mapping[str, Grid], step: Step) -> dict[str, str]:
    """Input text -> label for every row a person labelled in the review tab.

    The engine learns from these like from a gold column; the text is what the model reads
    for the row (:func:`~sheetai.engine.plan.row_text`), so sorting the sheet changes nothing.
    """
    warnings: list[str] = []
    return {e.text: e.label for e in review_entries(grids.get(REVIEW_TAB), step, warnings)}


def reviewed_examples(grids: Mapping[str, Grid], step: Step) -> list[Example]:
    """:func:`reviewed_labels` as training examples for a provider."""
    return [Example(text=t, label=lab) for t, lab in reviewed_labels(grids, step).items() if t]


def training_examples(
    step: Step,
    grid: Grid,
    cols: StepColumns,
    plan: StepPlan,
    grids: Mapping[str, Grid],
    *,
    trust_edits: bool,
) -> list[Example]:
    """A gold column, the review tab, and answers a person typed over sheetai's.

    ``trust_edits`` is False when the step has no history: its "edits" may then be sheetai's own
    old answers, and a model must never learn from itself.
    """
    names = {norm_header(n): n for n in step.label_names}
    examples: list[Example] = []
    for row_plan in plan.rows:
        if row_plan.category in (Category.BLANK, Category.UNREADABLE):
            continue
        label = None
        if cols.gold is not None:
            label = names.get(norm_header(grid_get(grid, row_plan.row, cols.gold)))
        if label is None and trust_edits and row_plan.category is Category.HUMAN_EDIT:
            label = names.get(norm_header(grid_get(grid, row_plan.row, cols.values[0])))
        if label is not None:
            examples.append(Example(text=row_text(row_plan.inputs), label=label))
    seen = {e.text for e in examples}
    examples.extend(e for e in reviewed_examples(grids, step) if e.text not in seen)
    return examples
