"""Token arithmetic for OpenAI-shaped requests: what a request is expected to use, and what one
did cost at a :class:`~sheetai.providers.prices.Price` (the tables live in ``prices.py``).

Tokens are estimated as characters / 4, the same rule OpenAI's rate limiter uses before it has
tokenised a request. OpenAI's ``prompt_tokens`` include the ``cached_tokens`` read from its
prompt cache, which are billed at the cached-input price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..prices import Price, Usage, cost_usd

__all__ = ["estimate_tokens", "prompt_tokens", "usage_of", "usd"]


def estimate_tokens(text: str) -> int:
    """Characters / 4, rounded up.

    >>> estimate_tokens("abcde")
    2
    """
    return (len(text) + 3) // 4


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Estimated prompt tokens of a request's messages."""
    return estimate_tokens("".join(str(m.get("content") or "") for m in messages))


def usage_of(prompt: int, completion: int, cached: int = 0) -> Usage:
    """OpenAI's usage counts split by price (``prompt`` includes ``cached``).

    >>> usage_of(1000, 50, cached=800)
    Usage(input_tokens=200, output_tokens=50, cached_tokens=800, cache_write_tokens=0)
    """
    cached = min(max(cached, 0), prompt)
    return Usage(input_tokens=prompt - cached, output_tokens=completion, cached_tokens=cached)


def usd(price: Price | None, usage: Usage, *, batch: bool = False, flex: bool = False) -> float:
    """USD for ``usage``; 0.0 without a price (the provider then reports the cost as unknown).

    >>> gpt = Price(1.0, 2.0, cached_input=0.1, flex=0.5)
    >>> round(usd(gpt, usage_of(1_000_000, 0, cached=1_000_000)), 4), usd(None, Usage(5, 5))
    (0.1, 0.0)
    >>> round(usd(gpt, usage_of(0, 1_000_000), flex=True), 4)
    1.0
    """
    return cost_usd(price, usage, batch=batch, flex=flex) or 0.0
