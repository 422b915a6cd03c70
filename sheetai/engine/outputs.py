"""What a result puts in a row's output cells (a :class:`~sheetai.row_outputs.RowOutputs`).

Rows are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

from ..providers.base import RowResult
from ..row_outputs import RowOutputs
from ..steps import Step
from ..text import cell_text, is_blank
from .plan import RowPlan, row_text

__all__ = [
    "compose_outputs",
    "reflagged",
    "reflagged_flag",
    "clean_cell",
    "preview_row",
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


def compose_outputs(step: Step, result: RowResult) -> RowOutputs:
    """The cells a result puts in the step's output columns.

    >>> from sheetai.steps import Task
    >>> s = Step(name="s", sheet="F", inputs=["x"], task=Task.CLASSIFY, output="O",
    ...          model="local", min_confidence=0.6)
    >>> compose_outputs(s, RowResult(key="k", values=["Pos"], reasoning="r", confidence=0.5))
    RowOutputs(values=['Pos'], reasoning='r', confidence=0.5, flag='LOW_CONFIDENCE')
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
    else:
        flag = _confidence_flag(step, confidence)
    confidence = None if confidence is None else round(float(confidence), 3)
    return RowOutputs(
        [clean_cell(v) for v in values],
        clean_cell(result.reasoning or None),
        clean_cell(confidence),
        clean_cell(flag or None),
    )


def _confidence_flag(step: Step, confidence: float | None) -> str:
    """The flag an answer given with ``confidence`` gets ("" for none)."""
    if confidence is not None and math.isfinite(confidence) and confidence < step.min_confidence:
        return "LOW_CONFIDENCE"
    return ""


def _stored_confidence(outputs: RowOutputs) -> float | None:
    try:
        confidence = outputs.confidence
        return None if is_blank(confidence) else float(str(confidence))
    except (TypeError, ValueError):
        return None


def reflagged(step: Step, outputs: RowOutputs) -> RowOutputs:
    """Stored outputs with the flag recomputed for the step's current ``Min confidence``."""
    result = RowResult(key="", values=list(outputs.values), reasoning=cell_text(outputs.reasoning))
    result.confidence = _stored_confidence(outputs)
    return compose_outputs(step, result)


def reflagged_flag(step: Step, outputs: RowOutputs) -> Any:
    """The flag :func:`reflagged` gives, without building the outputs (a check run per row).

    >>> from sheetai.steps import Task
    >>> s = Step(name="s", sheet="F", inputs=["x"], task=Task.CLASSIFY, output="O",
    ...          model="local", min_confidence=0.6)
    >>> reflagged_flag(s, RowOutputs(["Pos"], "r", "0.5", None))
    'LOW_CONFIDENCE'
    """
    confidence = outputs.confidence
    if type(confidence) is float and confidence >= step.min_confidence:
        return None  # most answers: what the lines below give, without parsing anything
    return _confidence_flag(step, _stored_confidence(outputs)) or None


def preview_row(row_plan: RowPlan, outputs: RowOutputs) -> dict[str, Any]:
    """One line of the ``--preview`` table."""
    return {
        "row": row_plan.row,
        "input": row_text(row_plan.inputs),
        "result": outputs.answer,
        "reasoning": outputs.reasoning,
        "confidence": outputs.confidence,
        "flag": outputs.flag,
    }


def utc_now() -> str:
    """The time stamp kept in state records."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
