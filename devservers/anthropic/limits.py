"""Rate limits as Anthropic applies them: requests, input tokens and output tokens per minute.

Output tokens are counted as the request's ``max_tokens`` when it is admitted and settled to the
tokens really written once it is answered, as Anthropic documents for its output-token limit.
The window is 60 s unless a test compresses it.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass

__all__ = ["Limits", "Window"]

_KINDS = ("requests", "input-tokens", "output-tokens")


@dataclass
class Limits:
    """Per-minute limits; None means unlimited (then no header names it)."""

    rpm: int | None = None
    input_tpm: int | None = None
    output_tpm: int | None = None


class Window:
    """What was admitted in the last ``window_s`` seconds: ``[when, input, output]`` per request."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self.events: deque[list[float]] = deque()

    def _expire(self, now: float) -> None:
        while self.events and self.events[0][0] <= now - self.window_s:
            self.events.popleft()

    def used(self, now: float) -> tuple[int, int, int]:
        self._expire(now)
        return (
            len(self.events),
            int(sum(e[1] for e in self.events)),
            int(sum(e[2] for e in self.events)),
        )

    def admit(
        self, limits: Limits, tokens_in: int, max_out: int, now: float
    ) -> tuple[str, float] | list[float]:
        """The admitted request's entry (settle its output later), or ``(kind, wait_s)``."""
        used = self.used(now)
        wanted = (1, tokens_in, max_out)
        for index, limit in enumerate((limits.rpm, limits.input_tpm, limits.output_tpm)):
            if limit is not None and used[index] + wanted[index] > limit:
                return _KINDS[index], self._wait(index, used[index] + wanted[index] - limit, now)
        entry = [now, float(tokens_in), float(max_out)]
        self.events.append(entry)
        return entry

    def _wait(self, index: int, excess: float, now: float) -> float:
        freed = 0.0
        for event in self.events:
            freed += 1 if index == 0 else event[index]
            if freed >= excess:
                return max(0.001, event[0] + self.window_s - now)
        return self.window_s

    def headers(self, limits: Limits, now: float) -> dict[str, str]:
        """Anthropic's ``anthropic-ratelimit-*`` headers (resets as RFC 3339 times)."""
        used = self.used(now)
        out: dict[str, str] = {}
        for kind, limit, spent in zip(
            _KINDS, (limits.rpm, limits.input_tpm, limits.output_tpm), used, strict=True
        ):
            if limit is None:
                continue
            reset = dt.datetime.now(dt.timezone.utc) + dt.timedelta(
                seconds=min(spent / limit, 1) * self.window_s
            )
            out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{kind}-remaining"] = str(max(limit - spent, 0))
            out[f"anthropic-ratelimit-{kind}-reset"] = reset.isoformat().replace("+00:00", "Z")
        return out
