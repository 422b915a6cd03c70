"""What a model's tokens cost, for every vendor: the built-in tables, the user's own prices, and
the arithmetic of one request's cost.

Prices are USD per million tokens. A vendor bills four kinds of token at four prices: input,
output, input read from its prompt cache (``cached_input``) and input written to that cache
(``cache_write``); a batch request costs ``batch`` of the online price, a flex request
``flex`` of it. A model missing from the tables has no price: its cost is *unknown* (None), never
$0, and ``--max-cost`` cannot cap it until a price is given in ``SHEETAI_PRICES_FILE``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ..errors import ProviderError
from ..settings import Settings

__all__ = [
    "Price",
    "Usage",
    "Vendor",
    "PRICES",
    "CHECKED",
    "price_for",
    "cost_usd",
    "load_file",
    "user_prices",
]

Vendor = Literal["openai", "anthropic", "gemini"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens; ``None`` for a cache price means the input price applies."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    batch: float = 0.5
    flex: float | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens one request was billed for, split by price. ``input_tokens`` counts only input that
    was neither read from nor written to the cache (providers convert their vendor's usage)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0


#: When each vendor's table was last checked against the vendor's price page.
CHECKED: dict[Vendor, str] = {
    "openai": "2026-12-06",
    "anthropic": "2026-12-06",
    "gemini": "2026-12-06",
}

# Standard (short-context) rates. A model family whose flex share is None does not offer Flex.
PRICES: dict[Vendor, dict[str, Price]] = {
    # https://developers.openai.com/api/docs/pricing (Batch and Flex: 50 % of Standard).
    # gpt-5.4-mini/-nano: no Flex price found, so Flex is refused for them until a prices file
    # gives one ("flex": 0.5).
    "openai": {
        "gpt-5.5": Price(5.00, 30.00, cached_input=0.50, flex=0.5),
        "gpt-5.4": Price(2.50, 15.00, cached_input=0.25, flex=0.5),
        "gpt-5.4-mini": Price(0.75, 4.50, cached_input=0.075),
        "gpt-5.4-nano": Price(0.20, 1.25, cached_input=0.02),
        "gpt-5": Price(1.25, 10.00, cached_input=0.125, flex=0.5),
        "gpt-5-mini": Price(0.25, 2.00, cached_input=0.025, flex=0.5),
        "gpt-5-nano": Price(0.05, 0.40, cached_input=0.005, flex=0.5),
        "gpt-4.1": Price(2.00, 8.00, cached_input=0.50),
        "gpt-4.1-mini": Price(0.40, 1.60, cached_input=0.10),
        "gpt-4.1-nano": Price(0.10, 0.40, cached_input=0.025),
        "gpt-4o": Price(2.50, 10.00, cached_input=1.25),
        "gpt-4o-mini": Price(0.15, 0.60, cached_input=0.075),
        "o3": Price(2.00, 8.00, cached_input=0.50, flex=0.5),
        "o4-mini": Price(1.10, 4.40, cached_input=0.275, flex=0.5),
        "o3-mini": Price(1.10, 4.40, cached_input=0.55),
    },
    # https://platform.claude.com/docs/en/about-claude/pricing: cache_write is the 5-minute
    # write (what sheetai asks for); Batch 50 %. Haiku 5.5: its rate for prompts up to 100K
    # tokens (sheetai's prompts are far shorter); Sonnet 5.5 cache reads $0.10 since 2026-10-07.
    "anthropic": {
        "claude-haiku-4-5": Price(1.00, 5.00, cached_input=0.10, cache_write=1.25),
        "claude-haiku-5-5": Price(0.10, 0.50, cached_input=0.01, cache_write=0.125),
        "claude-sonnet-4-5": Price(3.00, 15.00, cached_input=0.30, cache_write=3.75),
        "claude-sonnet-4-6": Price(3.00, 15.00, cached_input=0.30, cache_write=3.75),
        "claude-sonnet-5": Price(2.00, 10.00, cached_input=0.20, cache_write=2.50),
        "claude-sonnet-5-5": Price(2.00, 10.00, cached_input=0.10, cache_write=2.50),
        "claude-opus-4-5": Price(5.00, 25.00, cached_input=0.50, cache_write=6.25),
        "claude-opus-4-6": Price(5.00, 25.00, cached_input=0.50, cache_write=6.25),
        "claude-opus-4-7": Price(5.00, 25.00, cached_input=0.50, cache_write=6.25),
        "claude-opus-4-8": Price(5.00, 25.00, cached_input=0.50, cache_write=6.25),
        "claude-opus-5": Price(5.00, 25.00, cached_input=0.50, cache_write=6.25),
        "claude-opus-5-5": Price(4.00, 20.00, cached_input=0.20, cache_write=5.00),
    },
    # https://ai.google.dev/gemini-api/docs/pricing: paid tier, text input, prompts up to 200K
    # tokens; cached_input is the context-caching read price (storage per hour is not counted);
    # Batch 50 %. Preview names ("gemini-3-flash-preview") take their family's price.
    "gemini": {
        "gemini-2.5-flash": Price(0.30, 2.50, cached_input=0.03),
        "gemini-2.5-flash-lite": Price(0.10, 0.40, cached_input=0.01),
        "gemini-2.5-pro": Price(1.25, 10.00, cached_input=0.125),
        "gemini-3-flash": Price(0.50, 3.00, cached_input=0.05),
        "gemini-3.1-flash-lite": Price(0.25, 1.50, cached_input=0.025),
        "gemini-3.1-pro": Price(2.00, 12.00, cached_input=0.20),
    },
}


def price_for(vendor: Vendor, model: str, extra: Mapping[str, Price] | None = None) -> Price | None:
    """The price of ``model``, or None when nobody has given one.

    ``extra`` (the user's prices, :func:`load_file`) wins over the tables. A dated snapshot
    (``gpt-4o-mini-2024-07-18``, ``claude-haiku-4-5-20251001``) takes its family's price.

    >>> price_for("openai", "gpt-4o-mini-2024-07-18").input
    0.15
    >>> price_for("anthropic", "claude-haiku-4-5-20251001").output
    5.0
    >>> price_for("openai", "my-llama") is None
    True
    >>> price_for("openai", "my-llama", {"my-llama": Price(0, 0)}).output
    0
    """
    table = {**PRICES[vendor], **(extra or {})}
    if model in table:
        return table[model]
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name + "-") or model.startswith(name + "@"):
            return table[name]
    return None


def cost_usd(
    price: Price | None, usage: Usage, *, batch: bool = False, flex: bool = False
) -> float | None:
    """USD for ``usage`` at ``price``; None when the price is unknown.

    >>> haiku = PRICES["anthropic"]["claude-haiku-4-5"]
    >>> round(cost_usd(haiku, Usage(1_000_000, 100_000)), 4)
    1.5
    >>> round(cost_usd(haiku, Usage(0, 0, cached_tokens=10**6, cache_write_tokens=10**6)), 4)
    1.35
    >>> round(cost_usd(haiku, Usage(1_000_000, 0), batch=True), 4), cost_usd(None, Usage(5, 5))
    (0.5, None)
    """
    if price is None:
        return None
    cached = price.input if price.cached_input is None else price.cached_input
    write = price.input if price.cache_write is None else price.cache_write
    usd = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cached_tokens * cached
        + usage.cache_write_tokens * write
    ) / 1_000_000
    if batch:
        usd *= price.batch
    elif flex:
        usd *= price.flex if price.flex is not None else 1.0
    return usd


def load_file(path: Path | None) -> dict[str, Price]:
    """The user's prices from ``SHEETAI_PRICES_FILE``: a JSON object of model name ->
    ``[input, output]`` or ``{"input": …, "output": …, "cached_input": …, "cache_write": …,
    "batch": …, "flex": …}`` (USD per million tokens; ``batch`` and ``flex`` are shares of the
    online price).
    """
    if path is None:
        return {}
    where = f"prices file {path}"
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        reason = error.strerror
        fix = "Fix SHEETAI_PRICES_FILE."
        raise ProviderError(f"{where}: cannot read it ({reason}). {fix}") from None
    except ValueError as error:
        raise ProviderError(f"{where}: not valid JSON ({error}).") from None
    if not isinstance(data, dict):
        raise ProviderError(f'{where}: write a JSON object, e.g. {{"my-model": [0.5, 1.5]}}.')
    return {str(name): _entry(where, str(name), value) for name, value in data.items()}


def _entry(where: str, name: str, value: Any) -> Price:
    example = f'"{name}": [0.5, 1.5] or {{"input": 0.5, "output": 1.5}}'
    try:
        if isinstance(value, list) and len(value) == 2:
            return Price(float(value[0]), float(value[1]))
        if isinstance(value, dict) and {"input", "output"} <= value.keys():
            known = {"input", "output", "cached_input", "cache_write", "batch", "flex"}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"unknown key {unknown[0]!r}")
            base = Price(float(value["input"]), float(value["output"]))
            rest: dict[str, Any] = {k: None if v is None else float(v) for k, v in value.items()}
            return replace(base, **rest)
    except (TypeError, ValueError) as error:
        raise ProviderError(f"{where}: model '{name}': {error}. Write {example}.") from None
    raise ProviderError(f"{where}: model '{name}' has no input and output price. Write {example}.")


def user_prices(settings: Settings, vendor: Vendor | str) -> dict[str, Price]:
    """The prices the user gave: ``SHEETAI_PRICES_FILE`` (any vendor's models), and for OpenAI
    ``SHEETAI_OPENAI_PRICES`` on top (``{"model": [input, output]}``, as it always was)."""
    extra = load_file(settings.prices_file)
    if vendor == "openai":
        for name, value in settings.openai_prices.items():
            extra[name] = _entry("SHEETAI_OPENAI_PRICES", name, value)
    return extra
