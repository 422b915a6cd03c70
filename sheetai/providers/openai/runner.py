"""Send many requests at once, as fast as the limits allow, and keep every row's answer.

An asyncio loop runs in a worker thread (:mod:`.bridge`); ``concurrency`` workers take jobs in
order, wait their turn at the :class:`~.throttle.Throttle`, and hand each finished row to the
caller's thread, so the engine can write results while requests are still in flight.

Each request is sent and retried by a :class:`~.request.Sender`; this module decides which row
goes next, how many workers run, and what a row's answer is: an answer that does not fit the
schema is re-asked with the validation error (a bounded number of times), one cut off at the
output cap is asked again with a larger cap, and every request is held against the budget
before it is sent.

The first request goes alone: its headers tell the limits to pace at, its reply whether the
server takes the response format, and how fast it is (a slow local server keeps fewer workers).
Where tokens are limited, a first wave of ``MIN_SAMPLES`` requests then goes before the rest:
their answers size the output cap (see :mod:`..llm.output_cap`), so the burst that follows
holds the tokens answers need, not the schema's generous start (issue 18: a 700-row run held
5 % more tokens than its final cap, all of it in its first second).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...backoff import Backoff
from ...errors import ProviderError
from ..base import Budget, RowResult
from ..llm.bridge import run_all, stream
from ..llm.output_cap import MIN_SAMPLES, OutputCap
from ..llm.prompt import reask_message
from ..llm.schema import AnswerSpec
from ..llm.throttle import Throttle
from ..prices import Price, Usage
from .answers import parse_completion
from .client import scrub
from .pricing import prompt_tokens, usage_of, usd
from .replies import BACKOFF
from .request import Drained, Fatal, RunStats, Sender

__all__ = ["Job", "RunStats", "Runner"]

# When the caller stops early (Ctrl-C, an error), requests already sent may finish for this
# long: their answers go to the cache, so the next run does not pay for them again.
DRAIN_SECONDS = 10.0
# A local server whose first answer takes longer than this computes one or two at a time.
LOCAL_SLOW_S = 1.0


@dataclass
class Job:
    """One request to make: ``keys`` are the rows (usually one) that share its answer."""

    keys: list[str]
    messages: list[dict[str, Any]]


@dataclass
class _Pace:
    """How many workers may send, learned from the first request (one per run)."""

    learned: asyncio.Event
    limit: int
    probe_taken: bool = False
    # Set once the output cap follows the answers, or the first wave is all back (its answers
    # cut off or failed), or a worker ends: until then only the first wave is sent.
    sized: asyncio.Event = field(default_factory=asyncio.Event)
    wave_sent: int = 0
    wave_back: int = 0


@dataclass
class Runner:
    """Runs jobs for one step against one endpoint.

    ``make_client`` builds the async SDK client inside the worker thread's loop.
    """

    spec: AnswerSpec
    model: str
    make_client: Callable[[], Any]
    throttle_limits: tuple[int | None, int | None]
    concurrency: int
    max_retries: int
    cap: OutputCap  # max_completion_tokens, following the answers (see llm/output_cap.py)
    price: Price | None
    expected_output_tokens: int
    logprobs: bool = True
    service_tier: str = ""  # sent when set; "flex" is billed at the flex price
    reasoning_effort: str = ""  # sent when set (reasoning models only)
    budget: Budget | None = None
    secret: str | None = None  # the key in use: removed from any message a server echoes
    stats: RunStats = field(default_factory=RunStats)
    # Called in the loop's thread with each answer before the caller can see it: answers kept
    # there (the cache) survive a kill even while the caller is busy saving the workbook.
    keep: Callable[[RowResult], None] | None = None
    # The key's pace shared with other replicas (see Throttle's ``shared``); None: alone.
    shared_pace: Callable[[int, int | None, int | None], float] | None = None
    base_url: str = ""  # for messages: where requests go
    url_setting: str = "OPENAI_BASE_URL"  # the setting that says so
    mode: str = "json_schema"  # the response format mode (see .formats)
    mode_forced: bool = False  # set by SHEETAI_OPENAI_RESPONSE_FORMAT: no fallback
    on_mode: Callable[[str], None] | None = None  # told, in the loop's thread, of a mode that works
    local: bool = False  # a server on this machine or network (see .local)
    timeout_s: float = 60.0
    timeout_setting: str = "SHEETAI_OPENAI_TIMEOUT_SECONDS"
    # Local servers that report no slots: workers kept after the first answer when it was slow.
    slow_limit: int | None = None
    backoff: Backoff = BACKOFF  # waits between retries (tests pass a fixed jitter)
    reasks: int = 2  # times an answer that breaks the schema is asked again

    def results(self, jobs: Sequence[Job]) -> Iterator[RowResult]:
        """Yield each row's result as it arrives; closing the iterator cancels the rest."""
        stop = threading.Event()
        pending = list(jobs)
        yield from stream(lambda out: self._main(pending, out, stop), stop, DRAIN_SECONDS)

    async def _main(self, jobs: list[Job], out: queue.Queue[Any], stop: threading.Event) -> None:
        sender = Sender(
            spec=self.spec,
            model=self.model,
            throttle=Throttle(*self.throttle_limits, shared=self.shared_pace),
            stop=stop,
            stats=self.stats,
            max_retries=self.max_retries,
            logprobs=self.logprobs,
            reasoning_effort=self.reasoning_effort,
            service_tier=self.service_tier,
            secret=self.secret,
            base_url=self.base_url,
            url_setting=self.url_setting,
            mode=self.mode,
            mode_forced=self.mode_forced,
            on_mode=self.on_mode,
            local=self.local,
            timeout_s=self.timeout_s,
            timeout_setting=self.timeout_setting,
            backoff=self.backoff,
        )
        pace = _Pace(asyncio.Event(), self.concurrency)
        if all(limit is not None for limit in self.throttle_limits) and self.slow_limit is None:
            pace.learned.set()
        client = self.make_client()
        feed = iter(jobs)
        try:
            workers = [
                asyncio.create_task(self._worker(sender, pace, client, feed, out, index))
                for index in range(max(1, min(self.concurrency, len(jobs))))
            ]
            for worker in workers:  # a first wave that ends (no rows left, a stop) holds no one
                worker.add_done_callback(lambda _: pace.sized.set())
            await run_all(workers)
        finally:
            self.stats.throttle_wait_s += sender.throttle.waited_s
            self.stats.response_format = sender.mode
            self.stats.output_cap = self.cap.current
            self.stats.cut_offs = self.cap.cut_offs
            await client.close()

    async def _worker(
        self,
        sender: Sender,
        pace: _Pace,
        client: Any,
        feed: Iterator[Job],
        out: queue.Queue[Any],
        index: int,
    ) -> None:
        while not sender.stop.is_set():
            probe = False
            if not pace.learned.is_set():
                if pace.probe_taken:
                    await pace.learned.wait()
                else:
                    probe = pace.probe_taken = True
            if index >= pace.limit:
                return
            if not pace.sized.is_set():
                if not self.cap.learning or sender.throttle.tokens is None and not probe:
                    pace.sized.set()  # the cap is known, or does not decide the pace
                elif pace.wave_sent >= MIN_SAMPLES:
                    await pace.sized.wait()
                pace.wave_sent += 1
            job = next(feed, None)
            if job is None:
                return
            cap = self.cap.current
            held = self._reserve(job.messages, cap)
            if held is None:
                # Never leave the others waiting for a probe that will not be sent.
                pace.learned.set()
                return
            started = time.monotonic()
            try:
                result = await self._answer(sender, client, job, cap, held)
            except Fatal as fatal:
                out.put(ProviderError(str(fatal)))
                raise
            except Drained:
                return
            except Exception as error:  # a reply nobody foresaw: this row fails, the run goes on
                result = RowResult.failure(
                    job.keys[0],
                    len(self.spec.value_keys),
                    f"unexpected {type(error).__name__}: {scrub(str(error), self.secret)[:100]}",
                )
            finally:
                slow = time.monotonic() - started >= LOCAL_SLOW_S
                if probe and self.slow_limit is not None and slow:
                    pace.limit = self.slow_limit
                pace.learned.set()
            pace.wave_back += 1
            if not self.cap.learning or pace.wave_back >= MIN_SAMPLES:
                pace.sized.set()
            if result.status == "invalid":
                self.stats.invalid += len(job.keys)
            if self.keep is not None:
                self.keep(result)
            out.put(result)

    def _reserve(self, messages: list[dict[str, Any]], cap: int) -> float | None:
        """Hold the worst case of one request (its prompt and a full-length answer) against
        the budget: the amount held, None when it does not fit."""
        worst = self._usd(Usage(prompt_tokens(messages), cap))
        if self.budget is None or self.budget.reserve(worst):
            return worst
        return None

    def _settle(self, held: float, spent: float) -> None:
        if self.budget is not None:
            self.budget.settle(held, spent)

    def _usd(self, usage: Usage) -> float:
        return usd(self.price, usage, flex=self.service_tier == "flex")

    async def _answer(
        self, sender: Sender, client: Any, job: Job, cap: int, held: float
    ) -> RowResult:
        """The row's result; every request in it was reserved against the budget first (the
        first by the worker, as ``held`` at ``cap``) and is settled with its real cost here.

        An answer that breaks the schema is asked again with the error, up to ``reasks``
        times; one cut off at the cap is asked again once with a larger cap.
        """
        messages = list(job.messages)
        tokens_in = tokens_out = tokens_cached = 0
        attempt = 0
        reasks = self.reasks
        enlarged = False
        while True:
            try:
                response = await sender.send(client, messages, attempt, cap)
            except BaseException:
                self._settle(held, 0.0)
                raise
            if isinstance(response, str):  # gave up: the reason
                self._settle(held, 0.0)
                result = RowResult.failure(job.keys[0], len(self.spec.value_keys), response)
                result.tokens = tokens_in + tokens_out
                result.cost_usd = self._usd(usage_of(tokens_in, tokens_out, tokens_cached))
                return result
            try:
                parsed = parse_completion(self.spec, response)
            except Exception:
                self._settle(held, 0.0)
                raise
            spent = usage_of(parsed.tokens_in, parsed.tokens_out, parsed.tokens_cached)
            self._settle(held, self._usd(spent))
            self.cap.observe(parsed.tokens_out, cut_off=parsed.cut_off)
            tokens_in += parsed.tokens_in
            tokens_out += parsed.tokens_out
            tokens_cached += parsed.tokens_cached
            cost = self._usd(usage_of(tokens_in, tokens_out, tokens_cached))
            retry: list[dict[str, Any]] | None = None
            larger = self.cap.retry(cap) if parsed.cut_off and not enlarged else None
            if larger is not None:
                enlarged, retry, cap = True, messages, larger
            elif parsed.values is None and not parsed.hopeless and reasks > 0:
                reasks -= 1
                retry = [
                    *messages,
                    {"role": "assistant", "content": parsed.content},
                    reask_message(parsed.error),
                ]
            if retry is not None:
                again = self._reserve(retry, cap)  # asking again is a request like any other
                if again is not None:
                    self.stats.reasked += 1
                    messages, held = retry, again
                    continue
            if parsed.hopeless:
                result = RowResult.failure(job.keys[0], len(self.spec.value_keys), parsed.error)
                result.reasoning = parsed.content[:2000]
                result.tokens = tokens_in + tokens_out
                result.cost_usd = cost
                return result
            if parsed.values is None:
                return RowResult(
                    key=job.keys[0],
                    values=[None] * len(self.spec.value_keys),
                    reasoning=parsed.content[:2000],
                    status="invalid",
                    error=parsed.error,
                    tokens=tokens_in + tokens_out,
                    cost_usd=cost,
                )
            if parsed.confidence_from_logprobs:
                self.stats.logprob_confidences += 1
            elif parsed.confidence is not None:
                self.stats.self_confidences += 1
            return RowResult(
                key=job.keys[0],
                values=parsed.values,
                reasoning=parsed.reasoning,
                confidence=parsed.confidence,
                tokens=tokens_in + tokens_out,
                cost_usd=cost,
            )
