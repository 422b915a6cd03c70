"""Answer many rows at once, as fast as Anthropic's three limits allow, keeping every answer.

An asyncio loop runs in a worker thread (:mod:`sheetai.providers.llm.bridge`); ``concurrency``
workers take rows in order, wait their turn at the throttle (requests, input tokens, and output
tokens held at ``max_tokens`` until the answer says what it used), and hand each result to the
caller's thread. The first request goes alone unless every limit is set by hand: its headers
name the limits to pace at.

Every request is held against the run's budget at its worst case (prompt + ``max_tokens``)
before it is sent and settled with its real cost after; an answer that breaks the schema is
asked again once with the validation error.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...errors import ProviderError
from ..base import Budget, RowResult
from ..llm.bridge import run_all, stream
from ..llm.throttle import Throttle
from ..prices import Price, Usage, cost_usd
from .answers import Reply, read_reply
from .request import Drained, Fatal, RunStats, Sender, prompt_tokens
from .shapes import Shape

__all__ = ["Job", "Runner", "row_result"]

DRAIN_SECONDS = 10.0  # requests in flight when the caller stops may finish (their answers kept)


@dataclass
class Job:
    """One request to make: ``keys`` are the rows (usually one) sharing its answer."""

    keys: list[str]
    text: str


@dataclass
class Runner:
    """Runs one step's jobs against Anthropic."""

    shape: Shape
    make_client: Callable[[], Any]
    limits: tuple[int | None, int | None, int | None]  # rpm, input tpm, output tpm
    concurrency: int
    max_retries: int
    price: Price | None
    base_url: str
    budget: Budget | None = None
    stats: RunStats | None = None
    keep: Callable[[RowResult], None] | None = None  # sees each answer first, in the loop
    reasks: int = 2  # times an answer that breaks the schema is asked again
    # The key's pace shared with other replicas (see Throttle's ``shared``); None: alone.
    shared_pace: Callable[[int, int | None, int | None], float] | None = None

    def results(self, jobs: Sequence[Job]) -> Iterator[RowResult]:
        """Yield each row's result as it arrives; closing the iterator cancels the rest."""
        stop = threading.Event()
        pending = list(jobs)
        yield from stream(lambda out: self._main(pending, out, stop), stop, DRAIN_SECONDS)

    async def _main(self, jobs: list[Job], out: queue.Queue[Any], stop: threading.Event) -> None:
        rpm, tpm, output_tpm = self.limits
        sender = Sender(
            shape=self.shape,
            throttle=Throttle(rpm, tpm, output_tpm=output_tpm, shared=self.shared_pace),
            stop=stop,
            stats=self.stats if self.stats is not None else RunStats(),
            max_retries=self.max_retries,
            base_url=self.base_url,
        )
        learned = asyncio.Event()
        if all(self.limits):
            learned.set()
        client = self.make_client()
        feed = iter(jobs)
        count = max(1, min(self.concurrency, len(jobs)))
        try:
            workers = [
                asyncio.create_task(self._worker(sender, learned, client, feed, out, index == 0))
                for index in range(count)
            ]
            await run_all(workers)
        finally:
            await client.close()

    async def _worker(
        self,
        sender: Sender,
        learned: asyncio.Event,
        client: Any,
        feed: Iterator[Job],
        out: queue.Queue[Any],
        probe: bool,
    ) -> None:
        if not probe:
            await learned.wait()
        while not sender.stop.is_set():
            job = next(feed, None)
            if job is None or not self._reserve(self.shape.first(job.text)):
                learned.set()  # never leave the others waiting for a probe not sent
                return
            try:
                result = await self._answer(sender, client, job)
            except Fatal as fatal:
                out.put(ProviderError(str(fatal)))
                raise
            except Drained:
                return
            finally:
                learned.set()
            if result.status == "invalid":
                sender.stats.invalid += len(job.keys)
            if self.keep is not None:
                self.keep(result)
            out.put(result)

    def _worst(self, messages: list[dict[str, Any]]) -> float:
        body = self.shape.body(messages)
        usage = Usage(prompt_tokens(body), self.shape.max_tokens)
        return cost_usd(self.price, usage) or 0.0

    def _reserve(self, messages: list[dict[str, Any]]) -> bool:
        return self.budget is None or self.budget.reserve(self._worst(messages))

    def _settle(self, messages: list[dict[str, Any]], spent: float) -> None:
        if self.budget is not None:
            self.budget.settle(self._worst(messages), spent)

    async def _answer(self, sender: Sender, client: Any, job: Job) -> RowResult:
        """The row's result; each request was reserved first and is settled here."""
        messages = self.shape.first(job.text)
        values = len(self.shape.spec.value_keys)
        spent, tokens, reasks = 0.0, 0, self.reasks
        while True:
            try:
                message = await sender.send(client, messages)
            except BaseException:
                self._settle(messages, 0.0)
                raise
            if isinstance(message, str):
                self._settle(messages, 0.0)
                failed = RowResult.failure(job.keys[0], values, message)
                failed.tokens, failed.cost_usd = tokens, spent
                return failed
            reply = read_reply(self.shape.spec, message, self.shape.max_tokens)
            sender.throttle.settle_output(self.shape.max_tokens, reply.usage.output_tokens)
            cost = cost_usd(self.price, reply.usage) or 0.0
            self._settle(messages, cost)
            spent, tokens = spent + cost, tokens + reply.tokens
            if reply.values is None and not reply.hopeless and reasks > 0:
                reasks -= 1
                retry = self.shape.reask(messages, reply.content, reply.error)
                if self._reserve(retry):
                    sender.stats.reasked += 1
                    messages = retry
                    continue
            return row_result(job.keys[0], values, reply, tokens, spent)


def row_result(key: str, values: int, reply: Reply, tokens: int, cost: float) -> RowResult:
    """A row's result from its last reply; ``tokens`` and ``cost`` cover all its requests."""
    if reply.values is None:
        status: Literal["failed", "invalid"] = "failed" if reply.hopeless else "invalid"
        return RowResult(
            key=key, values=[None] * values, reasoning=reply.text(), status=status,
            error=reply.error, tokens=tokens, cost_usd=cost,
        )  # fmt: skip
    return RowResult(
        key=key, values=reply.values, reasoning=reply.reasoning, confidence=reply.confidence,
        tokens=tokens, cost_usd=cost,
    )  # fmt: skip
