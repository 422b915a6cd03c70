"""Proactive throttling to requests- and tokens-per-minute, so the server rarely says 429.

Two leaky buckets (requests, tokens) refill continuously at ``HEADROOM`` of the limit and hold
at most ``BURST`` of a minute's allowance. In any 60 s a client then sends at most
``(HEADROOM + BURST) x limit`` < the limit, which keeps it under both a sliding-window limiter
and OpenAI's token bucket (which also enforces limits over shorter periods). Callers queue on
one lock, so only the caller at the head of the queue sleeps: CPU stays flat however many rows
wait. Limits come from the caller, else from the ``x-ratelimit-limit-*`` headers of responses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

__all__ = ["Throttle", "HEADROOM", "BURST", "parse_limit"]

HEADROOM = 0.97
BURST = 0.02
_UNLIMITED = 100_000_000  # servers without limits report huge numbers
# Each wake-up of the loop costs ~0.1 ms CPU here: sleeping at least this long lets one wake-up
# admit several requests. It loses no throughput, since the buckets hold 1.2 s of refill.
_MIN_SLEEP = 0.1


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


class _Bucket:
    def __init__(self, per_minute: int, now: float) -> None:
        self.set_limit(per_minute)
        self.level = self.capacity
        self.stamp = now

    def set_limit(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.rate = per_minute * HEADROOM / 60.0
        self.capacity = max(1.0, per_minute * BURST)

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` may be taken (an oversized request waits for a full bucket)."""
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate


class Throttle:
    """Admits requests at the pace the limits allow.

    Args:
        rpm: requests per minute; None until learned (or unlimited).
        tpm: tokens per minute; None until learned (or unlimited).
        clock: a monotonic clock (tests may pass their own).
    """

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        now = clock()
        self.configured = (rpm, tpm)
        self.requests = _Bucket(rpm, now) if rpm else None
        self.tokens = _Bucket(tpm, now) if tpm else None
        self.learned = False
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited_s = 0.0

    @property
    def rpm(self) -> int | None:
        return self.requests.per_minute if self.requests else None

    @property
    def tpm(self) -> int | None:
        return self.tokens.per_minute if self.tokens else None

    async def acquire(self, tokens: int) -> None:
        """Wait until one request of ``tokens`` tokens may be sent, then count it."""
        async with self._lock:
            while True:
                now = self.clock()
                wait = self._paused_until - now
                for bucket, amount in ((self.requests, 1), (self.tokens, tokens)):
                    if bucket is not None:
                        bucket.refill(now)
                        wait = max(wait, bucket.wait(amount))
                if wait <= 0:
                    break
                wait = max(wait, _MIN_SLEEP)
                self.waited_s += wait
                await asyncio.sleep(wait)
            if self.requests is not None:
                self.requests.level -= 1
            if self.tokens is not None:
                self.tokens.level -= tokens

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429: the server knows better than us)."""
        now = self.clock()
        self._paused_until = max(self._paused_until, now + seconds)
        for bucket in (self.requests, self.tokens):
            if bucket is not None:
                bucket.refill(now)
                bucket.level = min(bucket.level, 0.0)

    def learn(self, headers: Mapping[str, str]) -> None:
        """Adopt the server's limits; a limit set by the user wins when it is lower."""
        now = self.clock()
        self.learned = True
        for name, configured in zip(("requests", "tokens"), self.configured, strict=True):
            server = parse_limit(headers.get(f"x-ratelimit-limit-{name}"))
            if server is None:
                continue
            limit = min(server, configured) if configured else server
            bucket: _Bucket | None = getattr(self, name)
            if bucket is None:
                setattr(self, name, _Bucket(limit, now))
            elif bucket.per_minute != limit:
                bucket.set_limit(limit)
