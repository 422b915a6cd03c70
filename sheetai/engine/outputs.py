"""What a result puts in a row's output cells, and small helpers on in-memory sheets."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

from ..backends.base import Grid
from ..providers.base import RowResult
from ..steps import Step
from ..text import cell_text, is_blank
from .plan import RowPlan, row_text

__all__ = [
    "compose_outputs",
    "reflagged",
    "clean_cell",
    "preview_row",
    "grid_get",
    "grid_set",
    "utc_now",
]

# Characters no spreadsheet cell may hold (the XML 1.0 control characters).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_CELL_CHARS = 32_000


def clean_cell(value: Any) -> Any:
    """The value as every backend can store it, so what is written is what is remembered.

    >>> clean_cell("ok\\x07"), clean_cell(float("nan")), clean_cell(0.5)
    ('ok', None, 0.5)
    """
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)[:_MAX_CELL_CHARS]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compose_outputs(step: Step, result: RowResult) -> list[Any]:
    """The cells a result puts in the step's output columns, flag last.

    >>> from sheetai.steps import Task
    >>> s = Step(name="s", sheet="F", inputs=["x"], task=Task.CLASSIFY, output="O",
    ...          model="local", min_confidence=0.6)
    >>> compose_outputs(s, RowResult(key="k", values=["Pos"], reasoning="r", confidence=0.5))
    ['Pos', 'r', 0.5, 'LOW_CONFIDENCE']
    """
    count = len(step.output_columns().values)
    values = (list(result.values) + [None] * count)[:count]
    confidence = result.confidence
    if confidence is not None and not math.isfinite(float(confidence)):
        confidence = None
    if result.status == "failed":
        error = " ".join(result.error.split())
        flag = "ERROR: " + (error[:120] or "unknown error")
    elif result.status == "invalid":
        flag = "INVALID_OUTPUT"
    elif confidence is not None and confidence < step.min_confidence:
        flag = "LOW_CONFIDENCE"
    else:
        flag = ""
    confidence = None if confidence is None else round(float(confidence), 3)
    cells = [*values, result.reasoning or None, confidence, flag or None]
    return [clean_cell(v) for v in cells]


def reflagged(step: Step, outputs: list[Any]) -> list[Any]:
    """Stored outputs with the flag recomputed for the step's current ``Min confidence``."""
    count = len(step.output_columns().values)
    confidence = outputs[count + 1] if len(outputs) > count + 1 else None
    result = RowResult(
        key="",
        values=outputs[:count],
        reasoning=cell_text(outputs[count]) if len(outputs) > count else "",
    )
    try:
        result.confidence = None if is_blank(confidence) else float(str(confidence))
    except (TypeError, ValueError):
        result.confidence = None
    return compose_outputs(step, result)


def preview_row(row_plan: RowPlan, outputs: list[Any]) -> dict[str, Any]:
    """One line of the ``--preview`` table."""
    return {
        "row": row_plan.row,
        "input": row_text(row_plan.inputs),
        "result": outputs[0] if len(outputs) == 4 else outputs[:-3],
        "reasoning": outputs[-3],
        "confidence": outputs[-2],
        "flag": outputs[-1],
    }


def grid_get(grid: Grid, row: int, col: int) -> Any:
    """The value at 1-based ``row`` and 0-based ``col``, None past the edges."""
    cells = grid[row - 1] if row - 1 < len(grid) else []
    return cells[col] if col < len(cells) else None


def grid_set(grid: Grid, row: int, col: int, value: Any) -> None:
    """Set the value at 1-based ``row`` and 0-based ``col``, growing the grid as needed."""
    while len(grid) < row:
        grid.append([])
    cells = grid[row - 1]
    if len(cells) <= col:
        cells.extend([None] * (col + 1 - len(cells)))
    cells[col] = value


def utc_now() -> str:
    """The time stamp kept in state records."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
