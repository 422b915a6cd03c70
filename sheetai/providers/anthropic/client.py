"""The door to Anthropic: SDK clients built from the settings, and what each request is sized to.

The key and base URL come from :class:`~sheetai.settings.Settings`, which reads the SDK's own
variables (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``); the base URL is passed only when set,
so the SDK's default stays the SDK's. Its retries are off (``max_retries=0``): ours go through
the throttle (see :mod:`.request`).
"""

from __future__ import annotations

import re
from typing import Any

import anthropic

from ...errors import ProviderError
from ...settings import Settings
from ...steps import Task
from ..llm.schema import AnswerSpec

__all__ = [
    "KEY_VARIABLE",
    "URL_VARIABLE",
    "MAX_TOKENS_SETTING",
    "api_key",
    "async_client",
    "sync_client",
    "check_key",
    "max_tokens",
    "output_method",
]

KEY_VARIABLE = "ANTHROPIC_API_KEY"
URL_VARIABLE = "ANTHROPIC_BASE_URL"
MAX_TOKENS_SETTING = "SHEETAI_ANTHROPIC_MAX_TOKENS"
# Models before structured outputs (JSON outputs and strict tools came with the 4.5 models):
# they answer through a forced tool whose input the schema describes, checked by pydantic.
_LEGACY = re.compile(r"claude-(3|(opus|sonnet)-4-[01]\b|(opus|sonnet)-4-20)", re.IGNORECASE)


def api_key(settings: Settings) -> str | None:
    secret = settings.anthropic_api_key
    return secret.get_secret_value() if secret is not None else None


def check_key(settings: Settings, step: str, model: str) -> None:
    """Refuse a step whose model is Anthropic's when no key is set (before anything runs)."""
    if not api_key(settings):
        raise ProviderError(
            f"step '{step}': model '{model}' is Anthropic's and no key is set: set "
            f"{KEY_VARIABLE} (and {URL_VARIABLE} for a proxy or gateway)."
        )


def _options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "api_key": api_key(settings),
        "max_retries": 0,
        "timeout": settings.anthropic_timeout_seconds,
        # No tracing spans: they cost client CPU on every request and nobody reads them here.
        "open_telemetry": False,
    }
    if settings.anthropic_base_url:
        options["base_url"] = settings.anthropic_base_url
    return options


def async_client(settings: Settings, connections: int) -> anthropic.AsyncAnthropic:
    """The async client of a live run, with a connection per worker.

    aiohttp, as the OpenAI path uses: httpx2 cost a third more client CPU per row
    (benchmarks/throughput.py claude-requests: 2.32 -> 1.74 ms/row, back to back).
    """
    import httpx2

    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    http = anthropic.DefaultAioHttpClient(limits=limits)
    return anthropic.AsyncAnthropic(http_client=http, **_options(settings))


def sync_client(settings: Settings) -> anthropic.Anthropic:
    """The client of Message Batches (a few calls a run)."""
    return anthropic.Anthropic(**_options(settings))


def output_method(model: str) -> str:
    """How answers are asked for: ``json_schema`` (``output_config.format``) or ``tool``.

    >>> output_method("claude-haiku-4-5"), output_method("claude-3-5-haiku-latest")
    ('json_schema', 'tool')
    >>> output_method("claude-sonnet-4-20250514"), output_method("claude-opus-4-7")
    ('tool', 'json_schema')
    """
    return "tool" if _LEGACY.match(model) else "json_schema"


def max_tokens(spec: AnswerSpec, override: int | None) -> int:
    """``max_tokens`` for one answer of the step: as tight as the schema allows.

    Anthropic counts ``max_tokens`` against the output-tokens-per-minute limit when a request
    starts, so a loose cap slows every run bound by that limit; a cut-off answer is flagged
    with the setting to raise.

    >>> from sheetai.steps import Step
    >>> from sheetai.providers.llm.schema import answer_spec
    >>> from sheetai.config import parse_labels
    >>> step = Step(name="s", sheet="S", inputs=["A"], task=Task.CLASSIFY, instructions="",
    ...     labels=parse_labels("a\\nb"), labels_text="a\\nb", output="O", model="claude-x")
    >>> max_tokens(answer_spec(step), None), max_tokens(answer_spec(step), 50)
    (200, 50)
    """
    if override:
        return override
    task = spec.step.task
    if task is Task.GENERATE:
        return 1024
    if task is Task.EXTRACT:
        return 160 + 60 * len(spec.fields)
    return 200  # classify, score: a sentence of reasoning and a short value
