"""Message Batches: half price, results within 24 h, matched to rows by ``custom_id``.

``submit`` creates one batch per 100,000 requests or ~250 MB (Anthropic's limits: 100,000 and
256 MB) and hands each to the caller the moment it exists; Ctrl-C and SIGTERM wait while a batch
is being created and handed over, so a billed batch is never lost. ``collect`` reads an ended
batch's results; an ``errored``, ``expired`` or ``canceled`` line is a failed row, which the
next run sends again.

A ``custom_id`` is 1-64 characters of ``[a-zA-Z0-9_-]``: a row key that is not is sent as a
digest of itself (:func:`custom_id`), and read back through the same function.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ...interrupts import interrupts_held
from ..base import BatchOutcome, OnBatch, RowResult
from ..prices import Price, cost_usd
from .answers import read_reply
from .runner import row_result
from .shapes import Shape

__all__ = [
    "MAX_REQUESTS",
    "MAX_BYTES",
    "PartialSubmitError",
    "custom_id",
    "split",
    "submit",
    "collect",
]

MAX_REQUESTS = 100_000
MAX_BYTES = 250_000_000  # under the 256 MB cap, for the JSON around the requests
_ID_OK = re.compile(r"[A-Za-z0-9_-]{1,64}")


def custom_id(key: str) -> str:
    """The ``custom_id`` of row ``key``: the key itself when Anthropic takes it.

    >>> custom_id("a1b2"), custom_id("x" * 65)[:2], len(custom_id("row 7: café"))
    ('a1b2', 'k-', 42)
    """
    if _ID_OK.fullmatch(key):
        return key
    return "k-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def split(sizes: Sequence[int]) -> list[range]:
    """Group requests of ``sizes`` bytes into batches within Anthropic's limits.

    >>> [len(r) for r in split([10] * 250_001)]
    [100000, 100000, 50001]
    """
    groups: list[range] = []
    start, size = 0, 0
    for index, bytes_ in enumerate(sizes):
        if index > start and (index - start >= MAX_REQUESTS or size + bytes_ > MAX_BYTES):
            groups.append(range(start, index))
            start, size = index, 0
        size += bytes_
    if sizes:
        groups.append(range(start, len(sizes)))
    return groups


class PartialSubmitError(Exception):
    """Creating a batch failed; ``created`` lists those made before it (still to be tracked)."""

    def __init__(self, created: dict[str, list[str]], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.created = created
        self.cause = cause


def submit(
    client: Any, shape: Shape, rows: Sequence[tuple[str, str]], on_batch: OnBatch | None
) -> dict[str, list[str]]:
    """Send ``(row key, text)`` pairs as batches; return ``{batch id: row keys}``.

    Raises:
        PartialSubmitError: a request failed after ``created`` batches were made.
    """
    requests = [
        {"custom_id": custom_id(key), "params": shape.body(shape.first(text))} for key, text in rows
    ]
    sizes = [len(json.dumps(r, ensure_ascii=False).encode()) for r in requests]
    created: dict[str, list[str]] = {}
    for group in split(sizes):
        keys = [rows[i][0] for i in group]
        try:
            # The server may create the batch before its answer reaches us: an interrupt while
            # waiting would lose a billed batch. It waits until the batch is noted instead.
            with interrupts_held():
                batch = client.messages.batches.create(requests=[requests[i] for i in group])
                created[batch.id] = keys
                if on_batch is not None:
                    on_batch(batch.id, keys)
        except Exception as error:
            if any(keys == made for made in created.values()):
                raise  # on_batch failed: the batch exists and the caller must know
            raise PartialSubmitError(created, error) from error
    return created


def collect(
    client: Any, batch_id: str, shape: Shape, price: Price | None, keys: Iterable[str]
) -> BatchOutcome:
    """The batch's progress and, once ended, one result per line (keyed by row key)."""
    batch = client.messages.batches.retrieve(batch_id)
    counts = batch.request_counts
    failed = counts.errored + counts.expired + counts.canceled
    total = counts.processing + counts.succeeded + failed
    outcome = BatchOutcome(
        batch_id,
        batch.processing_status,
        batch.processing_status == "ended",
        completed=counts.succeeded,
        failed=failed,
        total=total,
    )
    if not outcome.done:
        return outcome
    by_id = {custom_id(key): key for key in keys}
    values = len(shape.spec.value_keys)
    for line in client.messages.batches.results(batch_id):
        key = by_id.get(line.custom_id, line.custom_id)
        result = line.result
        if result.type != "succeeded":
            why = result.type
            if result.type == "errored":
                why = f"errored: {result.error.error.message}"
            outcome.results.append(
                RowResult.failure(key, values, f"batch line {why}; it runs again on the next run")
            )
            continue
        message = result.message.model_dump(mode="json")
        reply = read_reply(shape.spec, message, shape.max_tokens)
        cost = cost_usd(price, reply.usage, batch=True) or 0.0
        outcome.results.append(row_result(key, values, reply, reply.tokens, cost))
    return outcome
