"""Rows and the shared answer cache: what a cached answer holds, and a result for a row that
shares another's answer. Used by every vendor's provider, so an answer reads back the same way
whoever wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..base import RowResult
from .schema import AnswerSpec

__all__ = ["to_cache", "from_cache", "copy_result"]


def to_cache(result: RowResult) -> dict[str, Any]:
    """What the cache keeps of an answered row."""
    return {
        "values": result.values,
        "reasoning": result.reasoning,
        "confidence": result.confidence,
    }


def from_cache(key: str, found: Mapping[str, Any], spec: AnswerSpec) -> RowResult:
    """Row ``key``'s result from a cached answer (free: no request, no cost)."""
    return RowResult(
        key=key,
        values=spec.from_cache(list(found.get("values") or [])),
        reasoning=str(found.get("reasoning") or ""),
        confidence=found.get("confidence"),
        cached=True,
    )


def copy_result(result: RowResult, key: str) -> RowResult:
    """``result`` for another row with the same input (it costs nothing more)."""
    return RowResult(
        key=key,
        values=list(result.values),
        reasoning=result.reasoning,
        confidence=result.confidence,
        status=result.status,
        error=result.error,
        cached=True,
    )
