"""Which vendor a name in the config tab's Model column means.

``claude-…`` is Anthropic's, ``gemini-…`` Google's, ``gpt-…`` and the o-series (``o1…``,
``o3…``, ``o4…``) OpenAI's; a prefix ``anthropic/``, ``gemini/`` or ``openai/`` forces a vendor
whatever follows it. Every other name goes to the OpenAI-compatible provider (``OPENAI_BASE_URL``:
vLLM, Ollama, llama.cpp's server; ``azure:…`` for Azure OpenAI), as it always has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Route", "route", "FORCED"]

#: Where a model name sends the rows; "compatible" is any OpenAI-compatible server.
Destination = Literal["openai", "anthropic", "gemini", "compatible"]

FORCED: dict[str, Destination] = {
    "anthropic/": "anthropic",
    "gemini/": "gemini",
    "openai/": "openai",
}
_OPENAI = re.compile(r"(gpt-|chatgpt-|o[134](?:$|-))", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    """``vendor`` serves the model; ``model`` is its name as that vendor's API knows it."""

    vendor: Destination
    model: str


def route(name: str) -> Route:
    """The vendor and API model name of a Model cell (trimmed; the prefix dropped).

    >>> route("claude-haiku-4-5"), route("gemini-2.5-flash").vendor, route("gpt-4.1-mini").vendor
    (Route(vendor='anthropic', model='claude-haiku-4-5'), 'gemini', 'openai')
    >>> route("o4-mini").vendor, route("o3").vendor, route("ollama3").vendor
    ('openai', 'openai', 'compatible')
    >>> route("anthropic/my-claude-proxy"), route(" openai/llama-3 ").vendor
    (Route(vendor='anthropic', model='my-claude-proxy'), 'openai')
    >>> route("azure:my-deployment").vendor, route("qwen2.5:7b").vendor
    ('compatible', 'compatible')
    """
    name = name.strip()
    lowered = name.casefold()
    for prefix, vendor in FORCED.items():
        if lowered.startswith(prefix):
            return Route(vendor, name[len(prefix) :].strip())
    if lowered.startswith("claude-"):
        return Route("anthropic", name)
    if lowered.startswith("gemini-"):
        return Route("gemini", name)
    if _OPENAI.match(name):
        return Route("openai", name)
    return Route("compatible", name)
