"""Find a step's columns on its sheet by header, and place the missing output columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..steps import Step
from ..text import is_blank, norm_header

__all__ = ["StepColumns", "resolve_columns", "header_index", "header_columns", "used_width"]


def header_index(header: Sequence[Any]) -> dict[str, int]:
    """Normalised header -> 0-based column; the first of duplicate headers wins.

    The config tab refuses a step that uses a duplicated header (see :func:`header_columns`),
    so a step's own columns are never the ambiguous ones.

    >>> header_index(["Review", " review ", "Date"])
    {'review': 0, 'date': 2}
    """
    index: dict[str, int] = {}
    for col, value in enumerate(header):
        if not is_blank(value):
            index.setdefault(norm_header(value), col)
    return index


def header_columns(header: Sequence[Any]) -> dict[str, list[int]]:
    """Normalised header -> every 0-based column headed so, to find duplicates.

    >>> header_columns(["ID", "Review", "Review ", None])
    {'id': [0], 'review': [1, 2]}
    """
    columns: dict[str, list[int]] = {}
    for col, value in enumerate(header):
        if not is_blank(value):
            columns.setdefault(norm_header(value), []).append(col)
    return columns


@dataclass
class StepColumns:
    """0-based column indexes of one step on its sheet."""

    inputs: dict[str, int]
    values: list[int]
    reasoning: int
    confidence: int
    flag: int
    gold: int | None
    created: dict[int, str]  # columns added by this run: index -> header

    @property
    def owned(self) -> list[int]:
        return [*self.values, self.reasoning, self.confidence]

    @property
    def outputs(self) -> list[int]:
        return [*self.values, self.reasoning, self.confidence, self.flag]


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
    >>> cols.values, cols.flag, header[4:]
    ([4], 7, ['Mood', 'Mood reasoning', 'Mood confidence', 'Mood flag'])
    """
    index = header_index(header)
    inputs = {name: index[norm_header(name)] for name in step.inputs}
    last = max([c for c, v in enumerate(header) if not is_blank(v)] + [width - 1], default=-1)
    created: dict[int, str] = {}

    def find_or_create(name: str) -> int:
        nonlocal last
        key = norm_header(name)
        if key not in index:
            last += 1
            while len(header) <= last:
                header.append(None)
            header[last] = name
            index[key] = last
            created[last] = name
        return index[key]

    names = step.output_columns()
    values = [find_or_create(name) for name in names.values]
    reasoning = find_or_create(names.reasoning)
    confidence = find_or_create(names.confidence)
    flag = find_or_create(names.flag)
    gold = index.get(norm_header(step.gold_column))
    return StepColumns(inputs, values, reasoning, confidence, flag, gold, created)
