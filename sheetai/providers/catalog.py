"""What ``sheetai models`` reports: each vendor sheetai can send rows to, whether it is set up
(never a key's value), where its requests go, and the models it knows a price for.

Pure over :class:`~sheetai.settings.Settings` and the price tables; the CLI only draws it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..settings import Settings
from .prices import CHECKED, PRICES, Price, load_file
from .routing import route

__all__ = ["ModelPrice", "VendorInfo", "catalog"]


@dataclass(frozen=True)
class ModelPrice:
    """A model's price (USD per million tokens) and where it comes from: ``built-in``,
    ``SHEETAI_PRICES_FILE`` or ``SHEETAI_OPENAI_PRICES`` (the last two mark the user's)."""

    model: str
    input: float
    output: float
    cached_input: float | None
    cache_write: float | None
    batch: float
    flex: float | None
    source: str = "built-in"


@dataclass
class VendorInfo:
    """One vendor: ``key_set`` says only whether a key is there."""

    vendor: str
    name: str
    how_to_name: str
    key_variables: list[str]
    key_set: bool
    base_url: str
    base_url_variable: str
    configured: bool
    checked: str | None = None
    models: list[ModelPrice] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def catalog(settings: Settings) -> list[VendorInfo]:
    """Every vendor with its set-up and prices (the user's prices file applied and marked).

    Raises:
        ProviderError: the prices file cannot be read, naming the file and the model.
    """
    openai_key = settings.openai_api_key is not None
    azure_key = settings.azure_openai_api_key is not None or openai_key
    base = settings.openai_base_url
    vendors = [
        VendorInfo(
            "openai", "OpenAI", "gpt-…, o1…/o3…/o4…, openai/NAME", ["OPENAI_API_KEY"],
            openai_key, base or "https://api.openai.com/v1", "OPENAI_BASE_URL", openai_key,
            CHECKED["openai"],
        ),
        VendorInfo(
            "compatible", "OpenAI-compatible server (vLLM, Ollama, llama.cpp …)",
            "any other name (a key only if the server wants one)", ["OPENAI_API_KEY"], openai_key,
            base or "(not set)", "OPENAI_BASE_URL", base is not None,
        ),
        VendorInfo(
            "azure", "Azure OpenAI", "azure:DEPLOYMENT (priced by the deployment's name)",
            ["AZURE_OPENAI_API_KEY", "OPENAI_API_KEY"], azure_key,
            settings.azure_openai_endpoint or "(not set)", "AZURE_OPENAI_ENDPOINT",
            azure_key and settings.azure_openai_endpoint is not None,
        ),
        VendorInfo(
            "anthropic", "Anthropic (Claude)", "claude-…, anthropic/NAME", ["ANTHROPIC_API_KEY"],
            settings.anthropic_api_key is not None,
            settings.anthropic_base_url or "https://api.anthropic.com", "ANTHROPIC_BASE_URL",
            settings.anthropic_api_key is not None, CHECKED["anthropic"],
        ),
        VendorInfo(
            "gemini", "Google Gemini", "gemini-…, gemini/NAME",
            ["GEMINI_API_KEY", "GOOGLE_API_KEY"], settings.gemini_api_key is not None,
            settings.gemini_base_url or "https://generativelanguage.googleapis.com",
            "SHEETAI_GEMINI_BASE_URL", settings.gemini_api_key is not None, CHECKED["gemini"],
        ),
        VendorInfo(
            "local", "Embedded model (offline, free)", "local", [], True, "(this machine)", "",
            True, models=[ModelPrice("local", 0.0, 0.0, None, None, 1.0, None)],
        ),
    ]  # fmt: skip
    by_vendor = {v.vendor: v for v in vendors}
    for vendor, table in PRICES.items():
        by_vendor[vendor].models = [_row(name, p) for name, p in table.items()]
    user = [(n, p, "SHEETAI_PRICES_FILE") for n, p in load_file(settings.prices_file).items()]
    user += [
        (name, Price(float(pair[0]), float(pair[1])), "SHEETAI_OPENAI_PRICES")
        for name, pair in settings.openai_prices.items()
        if len(pair) == 2
    ]
    for name, price, source in user:
        _place(by_vendor, name, price, source)
    return vendors


def _row(name: str, price: Price, source: str = "built-in") -> ModelPrice:
    return ModelPrice(
        name,
        price.input,
        price.output,
        price.cached_input,
        price.cache_write,
        price.batch,
        price.flex,
        source,
    )


def _place(by_vendor: dict[str, VendorInfo], name: str, price: Price, source: str) -> None:
    """Put a user's price under the vendor its name routes to, replacing a built-in one."""
    vendor: str = route(name).vendor
    if vendor == "compatible" and source == "SHEETAI_OPENAI_PRICES":
        vendor = "openai" if name in PRICES["openai"] else "compatible"
    model = route(name).model
    models = by_vendor[vendor].models
    kept = [m for m in models if m.model != model]
    by_vendor[vendor].models = [*kept, _row(model, price, source)]
