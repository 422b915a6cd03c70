"""The rows a person labelled, as examples a provider may learn from.

Labels come from three places: a ``<Output> (gold)`` column, the ``sheetai review`` tab's
``Correct label`` column, and answers a person typed over sheetai's. Rows and columns are the
sheet's 1-based numbers (header = row 1, column A = 1).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..backends.base import Grid
from ..steps import Example, Step
from ..tabs import REVIEW_TAB
from ..text import norm_header
from .columns import StepColumns
from .grid import grid_get
from .plan import Category, StepPlan, row_text

# The review tab is read and checked in one place, for quality control and learning alike.
from .reviews import REVIEW_HEADERS, ReviewEntry, read_reviews

__all__ = [
    "REVIEW_TAB",
    "REVIEW_HEADERS",
    "ReviewEntry",
    "read_reviews",
    "reviewed_labels",
    "reviewed_examples",
    "training_examples",
]


def reviewed_labels(grids: Mapping[str, Grid], step: Step) -> dict[str, str]:
    """Input text -> label for every row a person labelled in the review tab.

    The engine learns from these like from a gold column; the text is what the model reads
    for the row (:func:`~sheetai.engine.plan.row_text`), so sorting the sheet changes nothing.
    Rows :func:`~sheetai.engine.reviews.read_reviews` finds unusable (a label not in the step's
    list, a row the sheet no longer holds, conflicting duplicates, another version of the step)
    are never learnt from.
    """
    warnings: list[str] = []
    return {e.text: e.label for e in read_reviews(grids, step, warnings)}


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
