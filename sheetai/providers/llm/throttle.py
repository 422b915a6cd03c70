"""Proactive throttling to requests- and tokens-per-minute, so the server rarely says 429.

Two leaky buckets (requests, tokens) refill continuously at ``HEADROOM`` of the limit and hold
at most ``BURST`` of a minute's allowance. In any 60 s a client then sends at most
``(HEADROOM + BURST) x limit`` < the limit, which keeps it under both a sliding-window limiter
and OpenAI's token bucket. OpenAI also enforces its limits over shorter periods, as a bucket
of one second of the limit (a 3,000 RPM limit lets at most 50 requests through at once): ours
hold 0.9 s, so the burst at the start of a run, the first request included, fits in it (1.2 s
sent 5-11 requests into 429s at every start, issue 18). Callers queue on one lock, so only
the caller at the head of the queue sleeps: CPU stays flat however many rows wait.

Where each limit comes from, first match wins; a limit the user sets caps all of them:

1. ``x-ratelimit-limit-requests`` / ``-tokens`` (OpenAI): the server names its limits, and
   they are adopted as they are.
2. ``x-ratelimit-remaining-*`` alone (Azure OpenAI sends no limit and no reset header): the
   limit is *inferred* as what remains plus what this throttle admitted in the last 60 s,
   refreshed with every response. Both counts cover the same sliding minute, so the sum is the
   limit for a per-minute window; for a shorter window (Azure counts requests over 1-10 s) it
   comes out lower than the real limit, which is the safe side, and climbs as traffic flows.
3. Nothing (vLLM, Ollama): no pacing at all.

Anthropic names three limits (``anthropic-ratelimit-requests-limit``, ``-input-tokens-limit``,
``-output-tokens-limit``) and counts a request's ``max_tokens`` against the output limit when it
starts, settling it with the tokens really written when it ends. Output tokens then have a
bucket of their own (``output_tpm``): :meth:`Throttle.acquire` takes ``max_tokens`` from it and
:meth:`Throttle.settle_output` gives back what the answer did not use. The input limit is the
``tokens`` bucket. The server names its limits, as in case 1.

While the server names no limit (2 and 3), a 429 also lowers the pace: to ``BACKOFF`` of the
rate the server accepted over the last minute (the time it asks us to wait included), which
then recovers by ``RECOVERY`` of that level per minute until the next 429 (multiplicative
decrease, additive increase). The 429s of one burst count as one event.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

__all__ = [
    "BACKOFF",
    "BURST",
    "HEADROOM",
    "OUTPUT_HEADROOM",
    "RECOVERY",
    "WINDOW_S",
    "Throttle",
    "parse_limit",
    "parse_remaining",
]

# 0.98 + BURST stays under the limit in any minute; 0.97 cost 1 % of every tokens-bound run.
HEADROOM = 0.98
# Output tokens (Anthropic) are held at max_tokens until each answer is settled, and one
# request's max_tokens can be several % of a small output limit: they keep more room.
OUTPUT_HEADROOM = 0.97
BURST = 0.015  # 0.9 s of a minute's allowance: under a server's one-second window
WINDOW_S = 60.0  # the period of a per-minute limit, over which admitted requests are counted
BACKOFF = 0.7  # after a 429 from a server that names no limit: this fraction of what it took
RECOVERY = 0.1  # ... then this fraction of that level more per minute
_UNLIMITED = 100_000_000  # servers without limits report huge numbers
# Each wake-up of the loop costs ~0.1 ms CPU here: sleeping at least this long lets one wake-up
# admit several requests. It loses no throughput, since the buckets hold 0.9 s of refill.
_MIN_SLEEP = 0.1
# A 429 before the pause that a 429 started is over, or this long after, belongs to the same
# event: it was sent before the pace was lowered, so it says nothing about the new pace.
_HOLD_S = 1.0
_REFRESH_S = 1.0  # how often a recovering pace is raised
_KINDS = ("requests", "tokens")
# Anthropic's header naming each bucket's limit.
_ANTHROPIC_LIMITS = {
    "requests": "anthropic-ratelimit-requests-limit",
    "tokens": "anthropic-ratelimit-input-tokens-limit",
    "output": "anthropic-ratelimit-output-tokens-limit",
}


def parse_limit(value: str | None) -> int | None:
    """A rate-limit header as a number, None when absent, unparsable or unlimited.

    >>> parse_limit("3000"), parse_limit(None), parse_limit("1000000000")
    (3000, None, None)
    """
    try:
        limit = int(float(value)) if value is not None else None
    except ValueError:
        return None
    return limit if limit is not None and 0 < limit < _UNLIMITED else None


def parse_remaining(value: str | None) -> int | None:
    """An ``x-ratelimit-remaining-*`` header as a number; None when absent, unparsable,
    negative (Azure's Responses API has sent -1) or unlimited.

    >>> parse_remaining("79"), parse_remaining("0"), parse_remaining("-1"), parse_remaining(None)
    (79, 0, None, None)
    """
    try:
        remaining = int(float(value)) if value is not None else None
    except ValueError:
        return None
    return remaining if remaining is not None and 0 <= remaining < _UNLIMITED else None


class _Bucket:
    def __init__(
        self, per_minute: float, now: float, minute_s: float, headroom: float = HEADROOM
    ) -> None:
        self.minute_s = minute_s
        self.headroom = headroom
        self.set_limit(per_minute)
        # Three quarters full at start: a fresh burst of workers reaches the server bunched by
        # latency jitter, and a server's one-second bucket has few requests to spare over a full
        # one of ours (requests-1s met 4 429s at start so on an idle machine; half full cost
        # 3 % of a short tokens-bound run).
        self.level = self.capacity * 0.75
        self.stamp = now
        # Output tokens a request held at its start and gave back unused (Throttle.settle_output):
        # kept apart from the level, so that they never stop it refilling while they wait.
        self.returned = 0.0

    def set_limit(self, per_minute: float) -> None:
        self.per_minute = per_minute
        self.rate = per_minute * self.headroom / self.minute_s
        self.capacity = max(1.0, per_minute * BURST)

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, amount: float) -> None:
        """Count a request: tokens given back (``returned``) go first."""
        first = min(self.returned, amount)
        self.returned -= first
        self.level -= amount - first

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` may be taken (an oversized request waits for a full bucket)."""
        need = min(amount, self.capacity)
        have = self.level + self.returned
        return 0.0 if have >= need else (need - have) / self.rate


class Throttle:
    """Admits requests at the pace the limits allow.

    Args:
        rpm: requests per minute; None until learned (or unlimited).
        tpm: tokens per minute (input tokens where output is limited apart); None until
            learned (or unlimited).
        clock: a monotonic clock (tests may pass their own).
        sleep: the coroutine that waits (tests pass one that moves their clock).
        minute_s: the period the limits are per, and which every other interval of the
            throttle scales with; None is ``WINDOW_S``, read when the throttle is built, so a
            test can compress the minute of a whole run (with a server counting over as long).
        output_tpm: output tokens per minute (Anthropic), paced in a bucket of their own.
        shared: ``shared(tokens, rpm, tpm) -> seconds to wait`` (0: taken): the key's budget
            shared with other replicas (``sheetai.stores.pace``), asked once this throttle
            would admit the request.
    """

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        minute_s: float | None = None,
        output_tpm: int | None = None,
        shared: Callable[[int, int | None, int | None], float] | None = None,
    ) -> None:
        self.shared = shared
        self.minute_s = WINDOW_S if minute_s is None else minute_s
        scale = self.minute_s / 60.0
        self._second = scale  # one second of a real minute
        self._min_sleep = _MIN_SLEEP * scale
        self._hold_s = _HOLD_S * scale
        self._refresh_s = _REFRESH_S * scale
        self.clock = clock
        self._sleep = sleep
        now = clock()
        self.configured = (rpm, tpm)
        self.requests = _Bucket(rpm, now, self.minute_s) if rpm else None
        self.tokens = _Bucket(tpm, now, self.minute_s) if tpm else None
        self.output_configured = output_tpm
        self.output = self._bucket("output", output_tpm, now) if output_tpm else None
        # False while a limit is inferred: the caller then passes every response's headers.
        self.learned = False
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited_s = 0.0
        self._named: set[str] = set()  # kinds whose limit the server names (even as unlimited)
        self._inferred: dict[str, float] = {}
        # What was admitted in the last minute_s, oldest first: (when, tokens).
        self._sent: deque[tuple[float, int]] = deque()
        self._sent_tokens = 0
        self._started: float | None = None
        # After a 429: per kind, the lowered limit, raised again from ``_recover_from``.
        self._cuts: dict[str, float] = {}
        self._recover_from = 0.0
        self._hold_until = -math.inf
        self._next_refresh = math.inf

    @property
    def rpm(self) -> int | None:
        return round(self.requests.per_minute) if self.requests else None

    @property
    def tpm(self) -> int | None:
        return round(self.tokens.per_minute) if self.tokens else None

    @property
    def output_tpm(self) -> int | None:
        return round(self.output.per_minute) if self.output else None

    async def acquire(self, tokens: int, output_tokens: int = 0) -> None:
        """Wait until one request of ``tokens`` tokens (and ``output_tokens``, its
        ``max_tokens``, where output is limited apart) may be sent, then count it."""
        async with self._lock:
            while True:
                now = self.clock()
                if now >= self._next_refresh:
                    self._apply(now)
                wait = self._paused_until - now
                buckets = ((self.requests, 1), (self.tokens, tokens), (self.output, output_tokens))
                for bucket, amount in buckets:
                    if bucket is not None:
                        bucket.refill(now)
                        wait = max(wait, bucket.wait(amount))
                if wait <= 0 and self.shared is not None:
                    wait = self.shared(tokens, self.rpm, self.tpm)
                if wait <= 0:
                    break
                wait = max(wait, self._min_sleep)
                self.waited_s += wait
                await self._sleep(wait)
            for bucket, amount in buckets:
                if bucket is not None:
                    bucket.take(amount)
            if self._started is None:
                self._started = now
            self._sent.append((now, tokens))
            self._sent_tokens += tokens
            self._expire(now)

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429: the server knows better than us).

        Unless the server names its limits, the pace is lowered too (once per burst of 429s).
        """
        now = self.clock()
        if self._sent:  # the refused request does not count against the limit
            self._sent_tokens -= self._sent.pop()[1]
        if not self._named and now >= self._hold_until:
            self._cut(now, seconds)
        self._paused_until = max(self._paused_until, now + seconds)
        for bucket in (self.requests, self.tokens, self.output):
            if bucket is not None:
                bucket.refill(now)
                bucket.level, bucket.returned = min(bucket.level, 0.0), 0.0

    def settle_output(self, reserved: int, used: int) -> None:
        """Give back the output tokens a request held (its ``max_tokens``) but did not write."""
        bucket = self.output
        if bucket is not None and reserved > used:
            bucket.returned += reserved - used

    def learn(self, headers: Mapping[str, str]) -> None:
        """Adopt the limits the server names, else infer them from what it says remains.

        A limit set by the user wins when it is lower.
        """
        now = self.clock()
        if _ANTHROPIC_LIMITS["requests"] in headers:
            limits = (*self.configured, self.output_configured)
            for (name, header), mine in zip(_ANTHROPIC_LIMITS.items(), limits, strict=True):
                named = headers.get(header)
                if named is not None:
                    self._adopt(name, named, mine, now)
            self.learned = True
            return
        inferring = False
        for name, configured in zip(_KINDS, self.configured, strict=True):
            named = headers.get(f"x-ratelimit-limit-{name}")
            if named is not None:
                self._adopt(name, named, configured, now)
                continue
            if name in self._named:
                continue
            remaining = parse_remaining(headers.get(f"x-ratelimit-remaining-{name}"))
            if remaining is None:
                continue
            self._expire(now)
            sent = len(self._sent) if name == "requests" else self._sent_tokens
            self._inferred[name] = remaining + sent
            inferring = True
        if inferring:
            self._apply(now)
        self.learned = not inferring

    # -- internals

    def _adopt(self, name: str, value: str, configured: int | None, now: float) -> None:
        """The server names a limit: it is used as it is, and 429s no longer lower the pace.

        ``name`` is the bucket's attribute: ``requests``, ``tokens`` or ``output``.
        """
        if name not in self._named:
            self._named.add(name)
            self._inferred.pop(name, None)
            self._cuts.clear()  # a 429 before the first answer may have lowered the pace
            bucket: _Bucket | None = getattr(self, name)
            if bucket is not None and bucket.per_minute != configured:
                setattr(self, name, self._bucket(name, configured, now) if configured else None)
            self._apply(now)
        server = parse_limit(value)
        if server is None:
            return
        limit = min(server, configured) if configured else server
        bucket = getattr(self, name)
        if bucket is None:
            setattr(self, name, self._bucket(name, limit, now))
        elif bucket.per_minute != limit:
            bucket.set_limit(limit)

    def _bucket(self, name: str, per_minute: float, now: float) -> _Bucket:
        headroom = OUTPUT_HEADROOM if name == "output" else HEADROOM
        return _Bucket(per_minute, now, self.minute_s, headroom)

    def _expire(self, now: float) -> None:
        horizon = now - self.minute_s
        sent = self._sent
        while sent and sent[0][0] <= horizon:
            self._sent_tokens -= sent.popleft()[1]

    def _cut(self, now: float, seconds: float) -> None:
        """Lower each known limit to ``BACKOFF`` of the rate the server accepted."""
        self._expire(now)
        started = self._started if self._started is not None else now
        # What was accepted since the window (or the run) began is all the server allows
        # until the wait it asks for is over: spread over both, at most a minute.
        span = min(self.minute_s, max(self._second, now - started + seconds))
        cut = False
        for name in _KINDS:
            bucket: _Bucket | None = getattr(self, name)
            used = len(self._sent) if name == "requests" else self._sent_tokens
            if used <= 0 or (name == "tokens" and bucket is None):
                # Nothing accepted is no rate to go by (the pause must do), and a slower
                # request pace lowers tokens too when nothing is known of them.
                continue
            rate = used * self.minute_s / span
            level = min(rate, bucket.per_minute) if bucket is not None else rate
            self._cuts[name] = max(1.0, BACKOFF * level)
            cut = True
        if cut:
            self._recover_from = now + seconds
            self._hold_until = now + seconds + self._hold_s
            self._apply(now)

    def _apply(self, now: float) -> None:
        """Set each bucket the server does not name to the lowest limit known for it."""
        self._next_refresh = math.inf
        minutes = max(0.0, now - self._recover_from) / self.minute_s
        for name, configured in zip(_KINDS, self.configured, strict=True):
            if name in self._named:
                continue
            # An inferred 0 (someone else used the whole minute) still paces, at the floor.
            limits = [v for v in (configured or None, self._inferred.get(name)) if v is not None]
            cut = self._cuts.get(name)
            if cut is not None:
                raised = cut * (1.0 + RECOVERY * minutes)
                if raised >= 2.0 * cut / BACKOFF:
                    del self._cuts[name]  # twice what the server refused: the limit is gone
                else:
                    limits.append(raised)
                    self._next_refresh = now + self._refresh_s
            bucket: _Bucket | None = getattr(self, name)
            if not limits:
                setattr(self, name, None)
                continue
            limit = max(1.0, min(limits))
            if bucket is None:
                setattr(self, name, _Bucket(limit, now, self.minute_s))
            elif bucket.per_minute != limit:
                bucket.refill(now)  # the time elapsed counts at the old rate
                bucket.set_limit(limit)
