"""Send many requests at once, as fast as the limits allow, and keep every row's answer.

An asyncio loop runs in a worker thread; ``concurrency`` workers take jobs in order, wait their
turn at the :class:`~.throttle.Throttle`, and hand each finished row to the caller's thread
through a queue, so the engine can write results while requests are still in flight.

Retries are ours, not the SDK's (its client is built with ``max_retries=0``): an SDK retry would
skip the throttle and, after a 429, hit the same full window again. Ours honour
``retry-after(-ms)``, pause the whole throttle after a 429, and back off exponentially on 5xx,
timeouts and dropped connections. An answer that does not fit the schema is re-asked once
with the validation error. An error that would be the same on every try (a 4xx, a 5xx naming a
bad parameter) is not retried, and the row's flag carries the server's own message.

A server that refuses the ``response_format`` sent is asked again at once in the next mode of
:mod:`.formats` (``json_schema`` -> ``json_object`` -> ``text``), once for the whole run. A
server that cannot be reached on the first requests (connection refused, no such host) stops
the step at once with the URL, before any row is written. A local server's timed-out request is
not sent again: it may still be computing it, and a copy would only queue behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from ...errors import ProviderError
from ..base import Budget, RowResult
from . import formats
from .answers import parse_completion
from .client import http_module, scrub
from .pricing import cost_usd, prompt_tokens
from .prompt import reask_message
from .replies import (
    MAX_WAIT,
    backoff,
    condense,
    connect_failure,
    fatal_text,
    json_object,
    retry_after,
    server_message,
)
from .schema import AnswerSpec
from .throttle import Throttle

__all__ = ["Job", "RunStats", "Runner"]

_DONE = object()
_RESPONSE_TYPE = http_module().Response  # asks the SDK for the raw response, headers included


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
    response_format: str = ""  # the mode the last answers came in (see .formats)


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
        if all(limit is not None for limit in self.throttle_limits) and self.slow_limit is None:
            self._learned.set()
        self._probe_taken = False
        self._reached = False  # the server has answered something (even an error)
        self._noted_mode = ""
        self._limit = self.concurrency
        client = self.make_client()
        feed = iter(jobs)
        try:
            workers = [
                asyncio.create_task(self._worker(client, feed, out, index))
                for index in range(max(1, min(self.concurrency, len(jobs))))
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
            self.stats.response_format = self.mode
            await client.close()

    async def _worker(
        self, client: Any, feed: Iterator[Job], out: queue.Queue[Any], index: int
    ) -> None:
        while not self._draining:
            probe = False
            if not self._learned.is_set():
                # The first request goes alone: its headers tell the limits to pace at, its
                # reply whether the server takes the response format, and how fast it is.
                if self._probe_taken:
                    await self._learned.wait()
                else:
                    probe = self._probe_taken = True
            if index >= self._limit:
                return
            job = next(feed, None)
            if job is None:
                return
            if not self._reserve(job.messages):
                # Never leave the others waiting for a probe that will not be sent.
                self._learned.set()
                return
            started = time.monotonic()
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
                slow = time.monotonic() - started >= LOCAL_SLOW_S
                if probe and self.slow_limit is not None and slow:
                    self._limit = self.slow_limit
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
        last = ""  # the server's last message, for the flag of a row that gives up
        while True:
            await self.throttle.acquire(tokens)
            if self._draining:
                raise _Drained
            self.stats.requests += 1
            mode = self.mode
            wait: float | None
            try:
                # The SDK's generic post (its documented door for raw calls): same auth, errors
                # and connection pool as ``chat.completions.create``, without the typed
                # transform of the body and response, which cost more CPU than the HTTP call.
                raw = await client.post(
                    "/chat/completions", body=self._body(messages, mode), cast_to=_RESPONSE_TYPE
                )
            except openai.RateLimitError as error:
                self._reached = True
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
                self._reached = True
                status = error.status_code
                message = self._scrub(server_message(error))
                if self._switch_mode(mode, status, message):
                    continue
                if status >= 500 and formats.names_bad_parameter(message):
                    # The same request would be refused the same way: one try is enough.
                    return f"the server refused the request ({status}): {condense(message)}"
                if status >= 500 or status in (408, 409):
                    wait, reason, last = backoff(attempt), f"server error {status}", message
                elif status == 400 and self.logprobs and "logprob" in message.lower():
                    self.logprobs = False  # a server without log-probabilities
                    continue
                elif status in (401, 403, 404):
                    raise _Fatal(fatal_text(status, self.model, message)) from None
                else:
                    return f"request rejected ({status}): {condense(message)}"
            except (openai.APITimeoutError, openai.APIConnectionError) as error:
                why = connect_failure(error)
                if why is not None and not self._reached:
                    raise _Fatal(
                        f"cannot connect to {self.base_url} ({why}): check {self.url_setting}"
                    ) from None
                if why is not None or not isinstance(error, openai.APITimeoutError):
                    wait, reason = backoff(attempt), "connection failed"
                elif self.local:
                    return (
                        f"timed out after {self.timeout_s:g} s, not sent again (the local server "
                        f"may still be on it): raise {self.timeout_setting}"
                    )
                else:
                    wait, reason = backoff(attempt), "timed out"
            else:
                self._reached = True
                if not self.throttle.learned or self.stats.requests % 200 == 0:
                    self.throttle.learn(raw.headers)
                body = json_object(raw.content)
                if body is not None:
                    self._note_mode(mode)
                    return body
                # A proxy's error page, an empty body: the request may well succeed again.
                wait, reason = backoff(attempt), "the server's reply was not JSON (HTTP 200)"
            self.stats.errors[reason] = self.stats.errors.get(reason, 0) + 1
            attempt += 1
            if attempt > self.max_retries:
                said = f" ({condense(last, 120)})" if last else ""
                return f"{reason}{said}; gave up after {attempt} attempts"
            self.stats.retries += 1
            if not reason.startswith("rate limited"):
                await asyncio.sleep(wait)

    def _switch_mode(self, sent: str, status: int, message: str) -> bool:
        """Whether to send again because the server refused the response format ``sent``."""
        if self.mode_forced or not formats.refuses_format(status, message):
            return False
        if sent != self.mode:
            return True  # another request has switched already
        following = formats.next_mode(sent)
        if following is None:
            return False
        self.mode = following
        return True

    def _note_mode(self, mode: str) -> None:
        if mode != self._noted_mode:
            self._noted_mode = mode
            if self.on_mode is not None:
                self.on_mode(mode)

    def _body(self, messages: list[dict[str, Any]], mode: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": formats.with_instructions(messages, self.spec, mode),
            "max_completion_tokens": self.max_output_tokens,
        }
        if self.local:
            body["max_tokens"] = self.max_output_tokens  # servers that know only the old name
        fmt = self._format(mode)
        if fmt is not None:
            body["response_format"] = fmt
        if self.logprobs and self.spec.value_keys == ["label"]:
            body["logprobs"] = True
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort
        return body

    def _scrub(self, text: str) -> str:
        return scrub(text, self.secret)

    def _format(self, mode: str) -> dict[str, Any] | None:
        known: dict[str, Any] = self.__dict__.setdefault("_formats", {})
        if mode not in known:
            known[mode] = formats.response_format(self.spec, mode)
        return known[mode]
