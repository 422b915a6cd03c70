"""Send many requests at once, as fast as the limits allow, and keep every row's answer.

An asyncio loop runs in a worker thread; ``concurrency`` workers take jobs in order, wait their
turn at the :class:`~.throttle.Throttle`, and hand each finished row to the caller's thread
through a queue, so the engine can write results while requests are still in flight.

Retries are ours, not the SDK's (its client is built with ``max_retries=0``): an SDK retry would
skip the throttle and, after a 429, hit the same full window again. Ours honour
``retry-after(-ms)``, pause the whole throttle after a 429, and back off exponentially on 5xx,
timeouts and dropped connections. An answer that does not fit the schema is re-asked once
with the validation error.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from ...errors import ProviderError
from ..base import Budget, RowResult
from .answers import parse_completion
from .client import http_module, scrub
from .pricing import cost_usd, prompt_tokens
from .prompt import reask_message
from .replies import MAX_WAIT, backoff, fatal_text, json_object, retry_after
from .schema import AnswerSpec
from .throttle import Throttle

__all__ = ["Job", "RunStats", "Runner"]

_DONE = object()
_RESPONSE_TYPE = http_module().Response  # asks the SDK for the raw response, headers included


# When the caller stops early (Ctrl-C, an error), requests already sent may finish for this
# long: their answers go to the cache, so the next run does not pay for them again.
DRAIN_SECONDS = 10.0


@dataclass
class Job:
    """One request to make: ``keys`` are the rows (usually one) that share its answer."""

    keys: list[str]
    messages: list[dict[str, Any]]


@dataclass
class RunStats:
    """Counters for the run log and the ``--json`` summary."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    reasked: int = 0
    logprob_confidences: int = 0
    self_confidences: int = 0
    throttle_wait_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


class _Fatal(Exception):
    """The whole step cannot go on (bad key, unknown model)."""


class _Drained(Exception):
    """The caller stopped: a request not yet sent is not sent."""


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
    max_output_tokens: int
    price: tuple[float, float] | None
    expected_output_tokens: int
    logprobs: bool = True
    reasoning_effort: str = ""  # sent when set (reasoning models only)
    budget: Budget | None = None
    secret: str | None = None  # the key in use: removed from any message a server echoes
    stats: RunStats = field(default_factory=RunStats)
    # Called in the loop's thread with each answer before the caller can see it: answers kept
    # there (the cache) survive a kill even while the caller is busy saving the workbook.
    keep: Callable[[RowResult], None] | None = None

    # -- the caller's side

    def results(self, jobs: Sequence[Job]) -> Iterator[RowResult]:
        """Yield each row's result as it arrives; closing the iterator cancels the rest."""
        out: queue.Queue[Any] = queue.Queue()
        state: dict[str, Any] = {}
        self._draining = False
        thread = threading.Thread(
            target=self._thread, args=(list(jobs), out, state), name="sheetai-openai", daemon=True
        )
        thread.start()
        try:
            while True:
                item = out.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._draining = True  # read by the loop's thread: no new request is sent
            # A second Ctrl-C stops waiting for the answers in flight.
            with contextlib.suppress(KeyboardInterrupt):
                thread.join(timeout=DRAIN_SECONDS)
            loop, task = state.get("loop"), state.get("task")
            if loop is not None and task is not None and thread.is_alive():
                # The thread may close its loop between the check and the call.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(task.cancel)
            thread.join(timeout=30)

    def _thread(self, jobs: list[Job], out: queue.Queue[Any], state: dict[str, Any]) -> None:
        loop = asyncio.new_event_loop()
        state["loop"] = loop
        try:
            task = loop.create_task(self._main(jobs, out))
            state["task"] = task
            # Cancelled when the caller closes the iterator: nothing is left to hand over.
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(task)
        except BaseException as error:  # handed to the caller's thread
            out.put(error)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            out.put(_DONE)

    # -- the loop's side

    async def _main(self, jobs: list[Job], out: queue.Queue[Any]) -> None:
        self.throttle = Throttle(*self.throttle_limits)
        self._learned = asyncio.Event()
        if all(limit is not None for limit in self.throttle_limits):
            self._learned.set()
        self._probe_taken = False
        client = self.make_client()
        feed = iter(jobs)
        try:
            workers = [
                asyncio.create_task(self._worker(client, feed, out))
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
            self.stats.throttle_wait_s += self.throttle.waited_s
            await client.close()

    async def _worker(self, client: Any, feed: Iterator[Job], out: queue.Queue[Any]) -> None:
        for job in feed:
            if self._draining:
                return
            if not self._learned.is_set():
                # The first request goes alone: its headers tell the limits to pace at.
                if self._probe_taken:
                    await self._learned.wait()
                self._probe_taken = True
            if not self._reserve(job.messages):
                # Never leave the others waiting for a probe that will not be sent.
                self._learned.set()
                return
            try:
                result = await self._answer(client, job)
            except _Fatal as fatal:
                out.put(ProviderError(str(fatal)))
                raise
            except _Drained:
                return
            except Exception as error:  # a reply nobody foresaw: this row fails, the run goes on
                result = RowResult.failure(
                    job.keys[0],
                    len(self.spec.value_keys),
                    f"unexpected {type(error).__name__}: {self._scrub(str(error))[:100]}",
                )
            finally:
                self._learned.set()
            if self.keep is not None:
                self.keep(result)
            out.put(result)

    def _reserve(self, messages: list[dict[str, Any]]) -> bool:
        """Hold the worst case of one request (its prompt and a full-length answer) against
        the budget; False when it does not fit."""
        if self.budget is None:
            return True
        worst = cost_usd(self.price, prompt_tokens(messages), self.max_output_tokens)
        return self.budget.reserve(worst)

    def _settle(self, messages: list[dict[str, Any]], spent: float) -> None:
        if self.budget is not None:
            worst = cost_usd(self.price, prompt_tokens(messages), self.max_output_tokens)
            self.budget.settle(worst, spent)

    async def _answer(self, client: Any, job: Job) -> RowResult:
        """The row's result; every request in it was reserved against the budget first (the
        first by the worker) and is settled with its real cost here."""
        messages = list(job.messages)
        tokens_in = tokens_out = 0
        attempt = 0
        reasked = False
        while True:
            try:
                response = await self._send(client, messages, attempt)
            except BaseException:
                self._settle(messages, 0.0)
                raise
            if isinstance(response, str):  # gave up: the reason
                self._settle(messages, 0.0)
                result = RowResult.failure(job.keys[0], len(self.spec.value_keys), response)
                result.tokens = tokens_in + tokens_out
                result.cost_usd = cost_usd(self.price, tokens_in, tokens_out)
                return result
            try:
                parsed = parse_completion(self.spec, response)
            except Exception:
                self._settle(messages, 0.0)
                raise
            self._settle(messages, cost_usd(self.price, parsed.tokens_in, parsed.tokens_out))
            tokens_in += parsed.tokens_in
            tokens_out += parsed.tokens_out
            cost = cost_usd(self.price, tokens_in, tokens_out)
            if parsed.hopeless:
                result = RowResult.failure(job.keys[0], len(self.spec.value_keys), parsed.error)
                result.reasoning = parsed.content[:2000]
                result.tokens = tokens_in + tokens_out
                result.cost_usd = cost
                return result
            if parsed.values is None and not reasked:
                reasked = True
                retry = [
                    *messages,
                    {"role": "assistant", "content": parsed.content},
                    reask_message(parsed.error),
                ]
                if self._reserve(retry):  # the re-ask is a request like any other
                    self.stats.reasked += 1
                    messages = retry
                    continue
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

    async def _send(self, client: Any, messages: list[dict[str, Any]], attempt: int) -> Any:
        """The completion body as a dict, or the reason (str) after the last retry."""
        tokens = prompt_tokens(messages) + self.max_output_tokens
        while True:
            await self.throttle.acquire(tokens)
            if self._draining:
                raise _Drained
            self.stats.requests += 1
            wait: float | None
            try:
                # The SDK's generic post (its documented door for raw calls): same auth, errors
                # and connection pool as ``chat.completions.create``, without the typed
                # transform of the body and response, which cost more CPU than the HTTP call.
                raw = await client.post(
                    "/chat/completions", body=self._body(messages), cast_to=_RESPONSE_TYPE
                )
            except openai.RateLimitError as error:
                if getattr(error, "code", None) == "insufficient_quota":
                    # Out of credit: no wait helps, and every row would fail the same way.
                    raise _Fatal(
                        f"the OpenAI account has no credit left for '{self.model}' "
                        "(insufficient_quota). Add credit or use another key, then run again: "
                        "rows already answered are kept."
                    ) from None
                self.stats.rate_limited += 1
                wait = retry_after(error.response.headers)
                wait = min(wait, MAX_WAIT) if wait is not None else backoff(attempt)
                self.throttle.pause(wait)
                reason = "rate limited (429)"
            except openai.APIStatusError as error:
                status = error.status_code
                if status >= 500 or status in (408, 409):
                    wait, reason = backoff(attempt), f"server error {status}"
                elif status == 400 and self.logprobs and "logprob" in str(error.message).lower():
                    self.logprobs = False  # a server without log-probabilities
                    continue
                elif status in (401, 403, 404):
                    message = self._scrub(str(error.message))
                    raise _Fatal(fatal_text(status, self.model, message)) from None
                else:
                    return f"request rejected ({status}): {self._scrub(str(error.message))[:150]}"
            except openai.APITimeoutError:
                wait, reason = backoff(attempt), "timed out"
            except openai.APIConnectionError:
                wait, reason = backoff(attempt), "connection failed"
            else:
                if not self.throttle.learned or self.stats.requests % 200 == 0:
                    self.throttle.learn(raw.headers)
                body = json_object(raw.content)
                if body is not None:
                    return body
                # A proxy's error page, an empty body: the request may well succeed again.
                wait, reason = backoff(attempt), "the server's reply was not JSON (HTTP 200)"
            self.stats.errors[reason] = self.stats.errors.get(reason, 0) + 1
            attempt += 1
            if attempt > self.max_retries:
                return f"{reason}; gave up after {attempt} attempts"
            self.stats.retries += 1
            if not reason.startswith("rate limited"):
                await asyncio.sleep(wait)

    def _body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_completion_tokens": self.max_output_tokens,
            "response_format": self._format,
        }
        if self.logprobs and self.spec.value_keys == ["label"]:
            body["logprobs"] = True
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort
        return body

    def _scrub(self, text: str) -> str:
        return scrub(text, self.secret)

    @property
    def _format(self) -> dict[str, Any]:
        cached = getattr(self, "_format_cache", None)
        if cached is None:
            cached = self.spec.response_format()
            self._format_cache = cached
        return cached
