"""Find a step's columns on its sheet by header, and place the missing output columns.

Column numbers are the sheet's, 1-based (column A = 1), as in every engine module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..headers import header_index
from ..row_outputs import OutputSlots, RowOutputs
from ..steps import Step
from ..text import is_blank, norm_header
from .grid import row_get

__all__ = ["StepColumns", "resolve_columns", "used_width"]


@dataclass
class StepColumns(OutputSlots[int]):
    """1-based column numbers of one step on its sheet: its output slots, inputs and gold."""

    inputs: dict[str, int]
    gold: int | None
    created: dict[int, str]  # columns added by this run: number -> header

    def read(self, cells: Sequence[Any]) -> RowOutputs:
        """What one row's cells (a grid row) hold in the step's output columns."""
        return RowOutputs(
            [row_get(cells, c) for c in self.values],
            row_get(cells, self.reasoning),
            row_get(cells, self.confidence),
            row_get(cells, self.flag),
        )


def used_width(grid: Sequence[Sequence[Any]]) -> int:
    """How many columns hold anything, in any row (headers or not).

    >>> used_width([["ID", None, None], [1, None, "note"], []])
    3
    """
    width = 0
    for row in grid:
        for col in range(len(row) - 1, width - 1, -1):
            if not is_blank(row[col]):
                width = col + 1
                break
    return width


def resolve_columns(step: Step, header: list[Any], width: int = 0) -> StepColumns:
    """Locate the step's columns in ``header``, appending missing output headers to it.

    New columns go right after the last used column (``width``, see :func:`used_width`), so
    they sit beside the table and never over data in a column without a header.
    ``header`` is extended in place.

    >>> from sheetai.steps import Step, Task
    >>> step = Step(name="s", sheet="F", inputs=["Review"], task=Task.CLASSIFY,
    ...             output="Mood", model="local")
    >>> header = ["ID", "Review", None, "Notes"]
    >>> cols = resolve_columns(step, header)
    >>> cols.inputs, cols.values, cols.flag, header[4:]
    ({'Review': 2}, [5], 8, ['Mood', 'Mood reasoning', 'Mood confidence', 'Mood flag'])
    """
    index = {name: col + 1 for name, col in header_index(header).items()}
    inputs = {name: index[norm_header(name)] for name in step.inputs}
    last = max([c + 1 for c, v in enumerate(header) if not is_blank(v)] + [width], default=0)
    created: dict[int, str] = {}

    def find_or_create(name: str) -> int:
        nonlocal last
        key = norm_header(name)
        if key not in index:
            last += 1
            while len(header) < last:
                header.append(None)
            header[last - 1] = name
            index[key] = last
            created[last] = name
        return index[key]

    names = step.output_columns()
    return StepColumns(
        values=[find_or_create(name) for name in names.values],
        reasoning=find_or_create(names.reasoning),
        confidence=find_or_create(names.confidence),
        flag=find_or_create(names.flag),
        inputs=inputs,
        gold=index.get(norm_header(step.gold_column)),
        created=created,
    )
