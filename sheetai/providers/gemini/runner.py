"""Send a step's rows to Gemini as fast as the limits allow, and keep every row's answer.

An asyncio loop in a worker thread (:mod:`..llm.bridge`) runs ``concurrency`` workers that take
jobs in order, wait their turn at the :class:`~..llm.throttle.Throttle` (Gemini sends no
rate-limit headers: the pace is ``SHEETAI_GEMINI_RPM`` / ``_TPM`` or the run's ``--rpm`` /
``--tpm``, lowered after a 429), and hand each finished row to the caller's thread.

A 429 ``RESOURCE_EXHAUSTED`` pauses every worker for the ``retryDelay`` Google names; 500, 503,
timeouts and dropped connections back off exponentially; a 4xx naming a bad request fails the
row with Google's message; a bad key stops the step. An answer that breaks the schema is asked
again once with the validation error; a blocked or cut-off answer is flagged, never re-asked.
Every request is held against the budget before it is sent.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from google.genai import errors

from ...backoff import Backoff
from ...errors import ProviderError
from ..base import Budget, RowResult
from ..llm.answers import Counters
from ..llm.bridge import stream
from ..llm.schema import AnswerSpec
from ..llm.throttle import Throttle
from ..prices import Price, Usage, cost_usd
from .client import error_message, retry_delay
from .request import estimate_tokens, first_turn, read_response, reask_turns

__all__ = ["BACKOFF", "Job", "RunStats", "Runner"]

# Waits without a retryDelay: ~0.5, 1, 2 ... s, at most 20 s; a retryDelay up to 2 minutes.
BACKOFF = Backoff(base=0.5, cap=20.0, max_wait=120.0)
# Requests already sent when the caller stops may finish this long: their answers reach the cache.
DRAIN_SECONDS = 10.0
_FATAL = (401, 403, 404)
# What the SDK's httpx transport raises for a lost connection or a timeout.
_TRANSPORT = (TimeoutError, OSError, httpx.TransportError)


class _Fatal(Exception):
    """No row of the step can succeed (bad key, unknown model, no server)."""


@dataclass
class Job:
    """One request to make: ``keys`` are the rows (usually one) that share its answer."""

    keys: list[str]
    text: str


class RunStats(Counters):
    """Counters for the run log and the ``--json`` summary."""

    response_format = "json_schema"  # Gemini's responseSchema, the only format sheetai sends


@dataclass
class Runner:
    """Runs jobs for one step against one Gemini model.

    ``make_client`` builds the SDK client inside the loop's thread; ``keep`` hears each result
    there before the caller does (the cache: an answer kept survives a kill).
    """

    spec: AnswerSpec
    model: str
    config: dict[str, Any]
    make_client: Callable[[], Any]
    limits: tuple[int | None, int | None]
    concurrency: int
    max_retries: int
    price: Price | None
    budget: Budget | None = None
    secret: str | None = None
    base_url: str = ""
    stats: RunStats = field(default_factory=RunStats)
    keep: Callable[[RowResult], None] | None = None
    reasks: int = 2  # times an answer that breaks the schema is asked again
    backoff: Backoff = BACKOFF
    # The key's pace shared with other replicas (see Throttle's ``shared``); None: alone.
    shared_pace: Callable[[int, int | None, int | None], float] | None = None
    _reached: bool = field(default=False, init=False)  # the server has answered (even an error)

    @property
    def limit(self) -> int:
        return int(self.config["max_output_tokens"])

    def results(self, jobs: Sequence[Job]) -> Iterator[RowResult]:
        """Yield each row's result as it arrives; closing the iterator cancels the rest."""
        stop = threading.Event()
        main = lambda out: self._main(list(jobs), out, stop)  # noqa: E731
        yield from stream(main, stop, DRAIN_SECONDS, name="sheetai-gemini")

    async def _main(self, jobs: list[Job], out: queue.Queue[Any], stop: threading.Event) -> None:
        throttle = Throttle(*self.limits, shared=self.shared_pace)
        client = self.make_client()
        feed = iter(jobs)
        workers = [
            asyncio.create_task(self._worker(client, throttle, feed, out, stop))
            for _ in range(max(1, min(self.concurrency, len(jobs))))
        ]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            await client.aio.aclose()

    async def _worker(
        self,
        client: Any,
        throttle: Throttle,
        feed: Iterator[Job],
        out: queue.Queue[Any],
        stop: threading.Event,
    ) -> None:
        while not stop.is_set():
            job = next(feed, None)
            if job is None:
                return
            try:
                result = await self._answer(client, throttle, job, stop)
            except _Fatal as fatal:
                out.put(ProviderError(str(fatal)))
                raise
            if result is None:  # stopped before it was sent, or the budget is spent
                return
            if result.status == "invalid":
                self.stats.invalid += len(job.keys)
            if self.keep is not None:
                self.keep(result)
            out.put(result)

    def _worst(self, contents: list[dict[str, Any]]) -> float:
        """A request's cost if its answer used the whole token cap (what the budget holds)."""
        text = self.config["system_instruction"] + "".join(
            p["text"] for c in contents for p in c["parts"]
        )
        usage = Usage(input_tokens=estimate_tokens(text), output_tokens=self.limit)
        return cost_usd(self.price, usage) or 0.0

    async def _answer(
        self, client: Any, throttle: Throttle, job: Job, stop: threading.Event
    ) -> RowResult | None:
        """The row's result; None when it was never sent (stopped, or over the budget)."""
        contents = first_turn(job.text)
        spent = Usage()
        values = len(self.spec.value_keys)
        reasked, reasks = False, self.reasks
        while True:
            worst = self._worst(contents)
            if self.budget is not None and not self.budget.reserve(worst):
                if not reasked:
                    return None
                parsed_error = "not asked again: the cost cap was reached"
                return self._row(job, RowResult.failure(job.keys[0], values, parsed_error), spent)
            try:
                response = await self._send(client, throttle, contents, stop)
            except BaseException:
                self._settle(worst, 0.0)
                raise
            if response is None:
                self._settle(worst, 0.0)
                return None
            if isinstance(response, str):
                self._settle(worst, 0.0)
                return self._row(job, RowResult.failure(job.keys[0], values, response), spent)
            parsed = read_response(self.spec, response, self.limit)
            self._settle(worst, cost_usd(self.price, parsed.usage) or 0.0)
            spent = _add(spent, parsed.usage)
            if parsed.values is not None:
                answer = RowResult(job.keys[0], parsed.values, parsed.reasoning, parsed.confidence)
                return self._row(job, answer, spent)
            if parsed.hopeless or reasks <= 0:
                failed = RowResult.failure(job.keys[0], values, parsed.error)
                failed.reasoning = parsed.content[:2000]
                if not parsed.hopeless:
                    failed.status = "invalid"
                return self._row(job, failed, spent)
            reasked, reasks = True, reasks - 1
            self.stats.reasked += 1
            contents = reask_turns(contents, parsed.content, parsed.error)

    def _row(self, job: Job, result: RowResult, spent: Usage) -> RowResult:
        result.tokens = spent.input_tokens + spent.cached_tokens + spent.output_tokens
        result.cost_usd = cost_usd(self.price, spent) or 0.0
        return result

    def _settle(self, reserved: float, actual: float) -> None:
        if self.budget is not None:
            self.budget.settle(reserved, actual)

    async def _send(
        self,
        client: Any,
        throttle: Throttle,
        contents: list[dict[str, Any]],
        stop: threading.Event,
    ) -> Any:
        """The response, the reason the row gives up (str), or None when stopped first."""
        tokens = estimate_tokens(str(contents)) + self.limit
        attempt = 0
        while True:
            await throttle.acquire(tokens)
            if stop.is_set():
                return None
            self.stats.requests += 1
            try:
                response = await client.aio.models.generate_content(
                    model=self.model, contents=contents, config=self.config
                )
                self._reached = True
                return response
            except errors.APIError as error:
                self._reached = True
                message = error_message(error, self.secret)
                code = error.code
                if code == 429:
                    self.stats.rate_limited += 1
                    wait = self.backoff.delay(attempt, retry_delay(error.details))
                    throttle.pause(wait)
                    reason = "rate limited (429 RESOURCE_EXHAUSTED)"
                elif code in _FATAL or "API key" in message:
                    raise _Fatal(
                        f"Gemini refused model '{self.model}' ({code} {error.status}): {message}"
                    ) from None
                elif code >= 500 or code == 408:
                    wait, reason = self.backoff.delay(attempt), f"server error {code}: {message}"
                    await asyncio.sleep(wait)
                else:
                    return f"Gemini rejected the request ({code} {error.status}): {message}"
            except _TRANSPORT as error:
                timeout = isinstance(error, TimeoutError | httpx.TimeoutException)
                if not self._reached and not timeout:
                    raise _Fatal(
                        f"cannot connect to {self.base_url} ({type(error).__name__}): check "
                        "SHEETAI_GEMINI_BASE_URL"
                    ) from None
                reason = "timed out" if timeout else "connection failed"
                await asyncio.sleep(self.backoff.delay(attempt))
            attempt += 1
            if attempt > self.max_retries:
                return f"{reason}; gave up after {attempt} attempts"
            self.stats.retries += 1


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.input_tokens + b.input_tokens,
        a.output_tokens + b.output_tokens,
        a.cached_tokens + b.cached_tokens,
    )
