"""Gemini batch mode: half price, results within 24 h.

``submit`` sends the rows as inline requests (``metadata.key`` = the row's key, so results map
back whatever their order), one batch per ``MAX_INLINE_BYTES`` of requests (Google takes at most
20 MB inline); ``collect`` reads a batch's state and, once it has ended, its inlined responses.
A batch that failed, expired or was cancelled returns no lines: the engine flags its rows and
the next run sends them again.

A created batch is billed, so its name must never be lost: each is handed to the caller the
moment it exists, and Ctrl-C or SIGTERM wait while a batch is being created and handed over.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...interrupts import interrupts_held
from ..base import BatchOutcome, OnBatch, RowResult
from ..llm.schema import AnswerSpec
from ..prices import Price, cost_usd
from .request import read_response

__all__ = ["MAX_INLINE_BYTES", "PartialSubmit", "split_requests", "submit", "collect"]

#: Inline requests of one batch, in bytes of JSON (Google's limit is 20 MB).
MAX_INLINE_BYTES = 19_000_000
_ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
_ENDED |= {"JOB_STATE_PARTIALLY_SUCCEEDED"}


class PartialSubmit(Exception):
    """Creating a batch failed after ``created`` ones were made: those must still be tracked."""

    def __init__(self, created: dict[str, list[str]], cause: Exception) -> None:
        super().__init__(str(cause))
        self.created, self.cause = created, cause


def split_requests(
    requests: Sequence[tuple[str, dict[str, Any]]], limit: int | None = None
) -> list[list[tuple[str, dict[str, Any]]]]:
    """Group ``(key, inline request)`` pairs into batches of at most ``limit`` bytes each.

    >>> [len(g) for g in split_requests([("k", {"a": "x" * 10})] * 5, limit=40)]
    [2, 2, 1]
    """
    limit = MAX_INLINE_BYTES if limit is None else limit
    groups: list[list[tuple[str, dict[str, Any]]]] = []
    size = 0
    for pair in requests:
        length = len(json.dumps(pair[1], ensure_ascii=False).encode())
        if not groups or size + length > limit:
            groups.append([])
            size = 0
        groups[-1].append(pair)
        size += length
    return groups


def submit(
    client: Any,
    model: str,
    requests: Sequence[tuple[str, dict[str, Any]]],
    step: str,
    on_batch: OnBatch | None = None,
) -> dict[str, list[str]]:
    """Create batches of ``(row key, inline request)``; return ``{batch name: row keys}``.

    Raises:
        PartialSubmit: creating a batch failed; ``created`` holds those made before it.
    """
    created: dict[str, list[str]] = {}
    for number, group in enumerate(split_requests(requests), 1):
        keys = [key for key, _ in group]
        job = None
        try:
            # The server may create the batch before its answer reaches us: an interrupt while
            # waiting would lose a billed batch, so it waits until the batch is noted.
            with interrupts_held():
                job = client.batches.create(
                    model=model,
                    src=[request for _, request in group],
                    config={"display_name": f"sheetai {step}"[:100] + f" #{number}"},
                )
                created[str(job.name)] = keys
                if on_batch is not None:
                    on_batch(str(job.name), keys)
        except Exception as error:
            if job is not None:  # on_batch failed: the batch is noted as far as it could be
                raise
            raise PartialSubmit(created, error) from error
    return created


def collect(
    client: Any, name: str, spec: AnswerSpec, price: Price | None, total: int, limit: int
) -> BatchOutcome:
    """The batch's state, and every line's result once it has ended (``limit``: the token cap
    the requests were sent with, for the flag of a cut-off answer)."""
    job = client.batches.get(name=name)
    state = str(getattr(job.state, "value", job.state) or "")
    status = state.removeprefix("JOB_STATE_").lower()
    outcome = BatchOutcome(name, status, state in _ENDED, total=total)
    if not outcome.done:
        return outcome
    lines = (job.dest.inlined_responses if job.dest is not None else None) or []
    for line in lines:
        key = (line.metadata or {}).get("key")
        if key is None:
            continue
        result = _line_result(str(key), line, spec, price, limit)
        outcome.results.append(result)
        if result.status == "failed":
            outcome.failed += 1
        else:
            outcome.completed += 1
    return outcome


def _line_result(
    key: str, line: Any, spec: AnswerSpec, price: Price | None, limit: int
) -> RowResult:
    values = len(spec.value_keys)
    if line.error is not None or line.response is None:
        message = line.error.message if line.error is not None else ""
        return RowResult.failure(key, values, f"batch line failed: {message or 'no answer'}")
    parsed = read_response(spec, line.response, limit)
    cost = cost_usd(price, parsed.usage, batch=True) or 0.0
    if parsed.values is None:
        # One batch line has no re-ask: an invalid answer is flagged as a live one would be.
        return RowResult(
            key, [None] * values, parsed.content[:2000],
            status="failed" if parsed.hopeless else "invalid", error=parsed.error,
            tokens=parsed.tokens, cost_usd=cost,
        )  # fmt: skip
    return RowResult(
        key, parsed.values, parsed.reasoning, parsed.confidence, tokens=parsed.tokens, cost_usd=cost
    )
