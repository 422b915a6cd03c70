"""The Batch API: half price, results within 24 h.

``submit`` writes the requests as JSONL (``custom_id`` = the row's key), uploads the file and
creates one batch per 50,000 requests (or ~190 MB); ``collect`` reads a batch's output and
error files once it has ended. Answers are parsed exactly as live answers are.

A created batch is billed, so its id must never be lost: ``submit`` hands each batch to the
caller the moment it exists, and Ctrl-C or SIGTERM wait while a batch is being created and
handed over (an upload, the slow part, stops at once).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from ...interrupts import interrupts_held
from ..base import BatchOutcome, OnBatch, RowResult
from ..llm.schema import AnswerSpec
from ..prices import Price
from .answers import parse_completion
from .pricing import usage_of, usd

__all__ = [
    "MAX_LINES",
    "MAX_BYTES",
    "BatchOutcome",
    "OnBatch",
    "PartialSubmitError",
    "split_lines",
    "submit",
    "collect",
]

MAX_LINES = 50_000
MAX_BYTES = 190_000_000
ENDED = ("completed", "failed", "expired", "cancelled")
# A file whose batch was not made is deleted on the way out of an interrupt: do not hang there.
_CLEANUP_TIMEOUT_S = 10.0


def split_lines(lines: Sequence[bytes]) -> list[list[bytes]]:
    """Group JSONL lines into files within the Batch API's limits.

    >>> [len(g) for g in split_lines([b"x"] * 120_001)]
    [50000, 50000, 20001]
    """
    groups: list[list[bytes]] = []
    size = 0
    for line in lines:
        if not groups or len(groups[-1]) >= MAX_LINES or size + len(line) > MAX_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(line)
        size += len(line)
    return groups


class PartialSubmitError(Exception):
    """Creating the batches failed after some were created: those must still be tracked."""

    def __init__(self, created: list[tuple[str, list[str]]], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.created = created
        self.cause = cause


def submit(
    client: Any,
    bodies: Sequence[tuple[str, dict[str, Any]]],
    step: str,
    url: str = "/v1/chat/completions",
    on_batch: OnBatch | None = None,
) -> list[tuple[str, list[str]]]:
    """Upload ``(custom_id, request body)`` pairs as batches; return ``(batch id, custom ids)``.

    ``url`` is the endpoint each line is sent to: Azure OpenAI documents ``/chat/completions``.
    ``on_batch`` records each batch as soon as it is created. Ctrl-C and SIGTERM wait from
    the moment the batch is requested until ``on_batch`` returns (at most the request's
    timeout plus ``on_batch``'s own time, so keep it short); an exception from it is not caught.

    Raises:
        PartialSubmitError: a request failed; ``created`` lists the batches made before it.
        KeyboardInterrupt: Ctrl-C or SIGTERM; every batch created before it went to
            ``on_batch``, and an uploaded file no batch reads was deleted (best effort).
    """
    keys = [key for key, _ in bodies]
    lines = [
        json.dumps(
            {"custom_id": key, "method": "POST", "url": url, "body": body},
            ensure_ascii=False,
        ).encode()
        + b"\n"
        for key, body in bodies
    ]
    created: list[tuple[str, list[str]]] = []
    start = 0
    for number, group in enumerate(split_lines(lines), 1):
        group_keys = keys[start : start + len(group)]
        start += len(group)
        upload = batch = None
        try:
            upload = client.files.create(
                file=(f"sheetai-{number}.jsonl", b"".join(group)), purpose="batch"
            )
            # The server may create the batch before its answer reaches us: an interrupt
            # while waiting for it would lose a billed batch. It waits until noted instead.
            with interrupts_held():
                batch = client.batches.create(
                    input_file_id=upload.id,
                    endpoint=url,
                    completion_window="24h",
                    metadata={"sheetai_step": step[:500]},
                )
                created.append((batch.id, group_keys))
                if on_batch is not None:
                    on_batch(batch.id, group_keys)
        except BaseException as error:
            if batch is not None:  # on_batch failed, or the interrupt held back arrived
                raise
            if upload is not None:  # no batch will ever read it: do not leave it in storage
                _delete_quietly(client, upload.id)
            if isinstance(error, Exception):  # the SDK's errors; the caller translates them
                raise PartialSubmitError(created, error) from error
            raise
    return created


def _delete_quietly(client: Any, file_id: str) -> None:
    # A second Ctrl-C here only cuts the clean-up short: the first is on its way out anyway.
    with contextlib.suppress(Exception, KeyboardInterrupt):
        client.with_options(timeout=_CLEANUP_TIMEOUT_S).files.delete(file_id)


def collect(client: Any, batch_id: str, spec: AnswerSpec, price: Price | None) -> BatchOutcome:
    """The batch's progress, and every line's result once it has ended."""
    batch = client.batches.retrieve(batch_id)
    counts = batch.request_counts
    outcome = BatchOutcome(
        batch_id,
        batch.status,
        batch.status in ENDED,
        completed=getattr(counts, "completed", 0) or 0,
        failed=getattr(counts, "failed", 0) or 0,
        total=getattr(counts, "total", 0) or 0,
    )
    if not outcome.done:
        return outcome
    values = len(spec.value_keys)
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        text = client.files.content(file_id).text
        for raw in text.splitlines():
            if raw.strip():
                outcome.results.append(_line_result(json.loads(raw), spec, price, values))
    return outcome


def _line_result(
    line: dict[str, Any], spec: AnswerSpec, price: Price | None, values: int
) -> RowResult:
    key = str(line.get("custom_id"))
    response = line.get("response") or {}
    body = response.get("body") or {}
    if line.get("error") or response.get("status_code") != 200:
        error = line.get("error") or body.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else str(error)
        return RowResult.failure(key, values, f"batch line failed: {message or 'no answer'}")
    parsed = parse_completion(spec, body)
    tokens = parsed.tokens_in + parsed.tokens_out
    used = usage_of(parsed.tokens_in, parsed.tokens_out, parsed.tokens_cached)
    cost = usd(price, used, batch=True)
    if parsed.values is None:
        return RowResult(
            key=key,
            values=[None] * values,
            reasoning=parsed.content[:2000],
            # A refusal or a cut-off answer says why in the flag, as in a live run.
            status="failed" if parsed.hopeless else "invalid",
            error=parsed.error,
            tokens=tokens,
            cost_usd=cost,
        )
    return RowResult(
        key=key,
        values=parsed.values,
        reasoning=parsed.reasoning,
        confidence=parsed.confidence,
        tokens=tokens,
        cost_usd=cost,
    )
