"""The rows a person labelled, as examples a provider may learn from."""

from __future__ import annotations

from collections.abc import Mapping

from ..backends.base import Grid
from ..steps import Example, Step
from ..text import norm_header
from .columns import StepColumns
from .outputs import grid_get
from .plan import Category, StepPlan, row_text

__all__ = ["training_examples"]


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
    from ..quality.data import reviewed_examples  # quality builds on the engine, not the reverse

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
