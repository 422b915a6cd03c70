"""Which endpoint a model name means, and the SDK clients for it (the provider's one door).

``gpt-4.1-mini`` and ``openai:gpt-4.1-mini`` go to OpenAI (or ``OPENAI_BASE_URL``: vLLM, Ollama,
llama.cpp server); ``azure:DEPLOYMENT`` goes to Azure OpenAI; ``openai`` alone is
``SHEETAI_OPENAI_DEFAULT_MODEL`` and ``azure`` alone ``SHEETAI_AZURE_OPENAI_DEPLOYMENT``. Keys are
read from :class:`~sheetai.settings.Settings` only and never appear in a message: errors from the
server are scrubbed of the key in use and of anything key-shaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...errors import ProviderError
from ...settings import Settings

__all__ = ["Endpoint", "resolve_endpoint", "scrub", "async_client", "sync_client", "http_module"]

_KEYISH = re.compile(r"(sk-[A-Za-z0-9_*\-]{4,}|Bearer\s+\S+|api[-_ ]?key[=:]\s*\S+)", re.I)


def scrub(text: str, secret: str | None = None) -> str:
    """Remove the key in use, and anything else that looks like a key, from a message.

    A server may echo the key back in any shape (Azure keys are bare hex), so the literal key
    is removed first, whatever it looks like.

    >>> scrub("Incorrect API key provided: sk-proj-abc***xyz.")
    'Incorrect API key provided: [key hidden].'
    >>> scrub("bad deployment for 0f3a9c2e1b7d", secret="0f3a9c2e1b7d")
    'bad deployment for [key hidden]'
    """
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[key hidden]")
    return _KEYISH.sub("[key hidden]", text)


@dataclass(frozen=True)
class Endpoint:
    """Where requests for one model go."""

    name: str  # as written in the Model column
    model: str  # as sent in requests (the deployment for Azure)
    azure: bool
    base_url: str | None
    api_key: str | None

    @property
    def is_openai(self) -> bool:
        """The real OpenAI API (prices apply, a key is required)."""
        return not self.azure and self.base_url is None


def resolve_endpoint(name: str, settings: Settings) -> Endpoint:
    """The endpoint for a Model cell.

    >>> e = resolve_endpoint("openai:gpt-4o-mini", Settings(openai_api_key="k"))
    >>> e.model, e.azure
    ('gpt-4o-mini', False)
    """
    raw = name.strip()
    prefix, sep, rest = raw.partition(":")
    if prefix.strip().casefold() == "azure":
        model = rest.strip() or settings.azure_openai_deployment or ""
        key = settings.azure_openai_api_key or settings.openai_api_key
        return Endpoint(
            raw,
            model,
            True,
            settings.azure_openai_endpoint,
            key.get_secret_value() if key else None,
        )
    model = rest.strip() if sep and prefix.strip().casefold() == "openai" else raw
    if not model or model.casefold() == "openai":
        model = settings.openai_default_model
    key = settings.openai_api_key
    return Endpoint(
        raw, model, False, settings.openai_base_url, key.get_secret_value() if key else None
    )


def check_credentials(endpoint: Endpoint, step: str) -> None:
    """Raise a ProviderError naming the step and the setting to fix."""
    if endpoint.azure:
        if not endpoint.model:
            raise ProviderError(
                f"step '{step}' uses Azure OpenAI but names no deployment: write "
                "'azure:DEPLOYMENT' in the Model column, or set SHEETAI_AZURE_OPENAI_DEPLOYMENT."
            )
        if not endpoint.base_url:
            raise ProviderError(
                f"step '{step}' uses model '{endpoint.name}' on Azure OpenAI: set "
                "AZURE_OPENAI_ENDPOINT (and AZURE_OPENAI_API_KEY, OPENAI_API_VERSION)."
            )
        if not endpoint.api_key:
            raise ProviderError(
                f"step '{step}' uses model '{endpoint.name}' on Azure OpenAI: set "
                "AZURE_OPENAI_API_KEY."
            )
    elif endpoint.is_openai and not endpoint.api_key:
        raise ProviderError(
            f"step '{step}' uses model '{endpoint.name}', which needs an OpenAI API key: set "
            "OPENAI_API_KEY (or OPENAI_BASE_URL for a server such as vLLM or Ollama), or "
            "write 'local' in the Model column."
        )


def _options(endpoint: Endpoint, settings: Settings, timeout: float | None) -> dict[str, Any]:
    # Retries are ours (they go through the throttle), so the SDK's are off.
    options: dict[str, Any] = {
        "api_key": endpoint.api_key or "no-key",
        "max_retries": 0,
        "timeout": timeout or settings.openai_timeout_seconds,
    }
    if endpoint.azure:
        options["azure_endpoint"] = endpoint.base_url
        options["api_version"] = settings.openai_api_version
    elif endpoint.base_url:
        options["base_url"] = endpoint.base_url
    return options


def async_client(
    endpoint: Endpoint, settings: Settings, connections: int, timeout: float | None = None
) -> Any:
    """An async SDK client with a connection pool sized to the concurrency.

    The SDK's aiohttp transport (``openai[aiohttp]``, a core dependency) costs about half the
    CPU per request of its default httpx one, whose pool checks every idle connection on every
    request; httpx stays the fallback where aiohttp cannot be imported. ``timeout`` (seconds
    per request) defaults to ``SHEETAI_OPENAI_TIMEOUT_SECONDS``.
    """
    import openai  # the SDK loads when a client is made (see the provider's run)

    timeout = timeout or settings.openai_timeout_seconds
    try:
        http_client = openai.DefaultAioHttpClient(timeout=timeout)
    except (RuntimeError, ImportError):
        http_client = openai.DefaultAsyncHttpxClient(limits=_limits(connections), timeout=timeout)
    cls = openai.AsyncAzureOpenAI if endpoint.azure else openai.AsyncOpenAI
    return cls(**_options(endpoint, settings, timeout), http_client=http_client)


def sync_client(endpoint: Endpoint, settings: Settings) -> Any:
    """A blocking SDK client (Batch API calls: a handful per run)."""
    import openai

    cls = openai.AzureOpenAI if endpoint.azure else openai.OpenAI
    return cls(**_options(endpoint, settings, None))


def http_module() -> Any:
    """The HTTP library the installed SDK is built on: httpx2 in recent releases, httpx before."""
    from openai import _base_client

    return getattr(_base_client, "httpx2", None) or _base_client.httpx  # type: ignore[attr-defined]


def _limits(connections: int) -> Any:
    return http_module().Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=30
    )
