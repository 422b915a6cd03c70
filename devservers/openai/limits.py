"""Rate limits as OpenAI applies them: a sliding window of requests and tokens, and its headers.

The window is 60 s unless given; tests compress it (``window_s=6``) to run several "minutes"
in seconds with every ratio kept.
"""

from __future__ import annotations

from collections import deque

__all__ = ["SlidingWindow", "UNLIMITED", "format_duration"]

UNLIMITED = 1_000_000_000  # the limit reported in headers when none is configured


def format_duration(seconds: float) -> str:
    """Format a duration the way OpenAI's ``x-ratelimit-reset-*`` headers do.

    >>> [format_duration(s) for s in (0, 0.017, 1, 8.64, 60, 86.4, 360)]
    ['0s', '17ms', '1s', '8.64s', '1m0s', '1m26.4s', '6m0s']
    """
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    text = f"{round(secs, 3):g}s"
    return f"{int(minutes)}m{text}" if minutes >= 1 else text


class SlidingWindow:
    """Requests and tokens admitted in the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self.events: deque[tuple[float, int]] = deque()
        self.tokens = 0

    def _expire(self, now: float) -> None:
        while self.events and self.events[0][0] <= now - self.window_s:
            self.tokens -= self.events.popleft()[1]

    def admit(
        self, cost: int, rpm: int | None, tpm: int | None, now: float
    ) -> tuple[str, float, int, int] | None:
        """Record the request and return None, or return ``(kind, wait_s, used, limit)``."""
        self._expire(now)
        if rpm is not None and len(self.events) >= rpm:
            wait = self.events[-rpm][0] + self.window_s - now if rpm else self.window_s
            return "requests", wait, len(self.events), rpm
        if tpm is not None and self.tokens + cost > tpm:
            wait, freed = self.window_s, 0
            for stamp, tokens in self.events:
                freed += tokens
                if self.tokens - freed + cost <= tpm:
                    wait = stamp + self.window_s - now
                    break
            return "tokens", wait, self.tokens, tpm
        self.events.append((now, cost))
        self.tokens += cost
        return None

    def headers(self, rpm: int | None, tpm: int | None, now: float) -> dict[str, str]:
        """OpenAI's headers; resets are reported as a token bucket would (used/limit x window)."""
        self._expire(now)
        rpm, tpm = rpm or UNLIMITED, tpm or UNLIMITED
        used_r, used_t = len(self.events), self.tokens
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-requests": str(max(rpm - used_r, 0)),
            "x-ratelimit-remaining-tokens": str(max(tpm - used_t, 0)),
            "x-ratelimit-reset-requests": format_duration(min(used_r / rpm, 1) * self.window_s),
            "x-ratelimit-reset-tokens": format_duration(min(used_t / tpm, 1) * self.window_s),
        }
