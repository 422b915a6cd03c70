"""How long to wait before sending a failed HTTP request again: one policy for every service.

Both doors to the network use it: the model provider (:mod:`sheetai.providers.openai.runner`)
and the Google Sheets client (:mod:`sheetai.backends.google_http`). Each keeps its own numbers
(a :class:`Backoff`) and its own bound on the number of attempts; the arithmetic is shared.

* Without a word from the server the wait grows exponentially from ``base`` up to ``cap``, with
  "equal jitter": between half and all of that ceiling, so clients that failed together do not
  come back together, and none comes back at once.
* A server's ``retry-after`` (or ``retry-after-ms``) is honoured up to ``max_wait`` with a
  little jitter on top (at most 10 %), for the same reason.

Pure, no I/O and no sleeping: callers sleep (or pause their throttle) themselves, and bound
their attempts, so a quota that never recovers ends in an error, not a hang.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Backoff", "retry_after"]


def retry_after(headers: Mapping[str, Any] | Any) -> float | None:
    """Seconds to wait as a reply's ``retry-after-ms`` or ``retry-after`` header says, or None.

    Header lookups go through ``headers.get``, so the case-insensitive header maps of httpx and
    requests find ``Retry-After`` too.

    >>> retry_after({"retry-after-ms": "1500"}), retry_after({"retry-after": "2"})
    (1.5, 2.0)
    >>> retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    True
    """
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


@dataclass(frozen=True)
class Backoff:
    """A jittered exponential back-off with a cap, honouring the server's ``retry-after``.

    Attributes:
        base: the ceiling of the first wait, in seconds; it doubles with each attempt.
        cap: the longest wait chosen without a word from the server.
        max_wait: the longest ``retry-after`` honoured; a server asking for more is tried again
            after this long anyway (the caller's bound on attempts still ends the wait).
        jitter: a source of numbers in [0, 1); tests pass a constant.
    """

    base: float
    cap: float
    max_wait: float
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int, told: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

        Args:
            attempt: how many retries were made already.
            told: the server's ``retry-after`` in seconds (see :func:`retry_after`), if any.

        >>> policy = Backoff(base=1.0, cap=32.0, max_wait=60.0, jitter=lambda: 1.0)
        >>> [policy.delay(n) for n in (0, 3, 9)]
        [1.0, 8.0, 32.0]
        >>> quiet = Backoff(base=1.0, cap=32.0, max_wait=60.0, jitter=lambda: 0.0)
        >>> [quiet.delay(n) for n in (0, 3, 9)]
        [0.5, 4.0, 16.0]
        >>> quiet.delay(0, told=2.0), quiet.delay(0, told=600.0), policy.delay(0, told=10.0)
        (2.0, 60.0, 11.0)
        """
        if told is not None and told >= 0:
            return min(self.max_wait, told * (1 + 0.1 * self.jitter()))
        ceiling = min(self.cap, self.base * 2 ** min(attempt, 32))
        return ceiling * (0.5 + self.jitter() / 2)
