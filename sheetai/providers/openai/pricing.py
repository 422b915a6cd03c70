"""Prices and token arithmetic: what a request is expected to cost, and what it did cost.

Prices are USD per million tokens ``(input, output)``; ``SHEETAI_OPENAI_PRICES`` (JSON) adds or
overrides entries. The Batch API costs half. Tokens are estimated as characters / 4, the same
rule OpenAI's rate limiter uses before it has tokenised a request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PRICES", "price_for", "cost_usd", "estimate_tokens", "prompt_tokens"]

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
}


def price_for(
    model: str, overrides: Mapping[str, Sequence[float]] | None = None
) -> tuple[float, float] | None:
    """``(input, output)`` USD per million tokens, or None when the model has no price.

    A dated snapshot (``gpt-4o-mini-2024-07-18``) takes its family's price.

    >>> price_for("gpt-4o-mini-2024-07-18")
    (0.15, 0.6)
    >>> price_for("my-llama", {"my-llama": [0, 0]})
    (0.0, 0.0)
    """
    table: dict[str, tuple[float, float]] = dict(PRICES)
    for name, pair in (overrides or {}).items():
        table[name] = (float(pair[0]), float(pair[1]))
    if model in table:
        return table[model]
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name + "-"):
            return table[name]
    return None


def cost_usd(
    price: tuple[float, float] | None, tokens_in: int, tokens_out: int, batch: bool = False
) -> float:
    """USD for the tokens at ``price`` (0 without a price).

    >>> round(cost_usd((0.4, 1.6), 1_000_000, 500_000), 4), cost_usd((0.4, 1.6), 10, 10, True)
    (1.2, 1e-05)
    """
    if price is None:
        return 0.0
    usd = (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
    return usd / 2 if batch else usd


def estimate_tokens(text: str) -> int:
    """Characters / 4, rounded up.

    >>> estimate_tokens("abcde")
    2
    """
    return (len(text) + 3) // 4


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Estimated prompt tokens of a request's messages."""
    return estimate_tokens("".join(str(m.get("content") or "") for m in messages))
