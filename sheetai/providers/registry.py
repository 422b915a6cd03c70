"""Choose the provider for a model name from the config tab's Model column."""

from __future__ import annotations

from ..errors import ProviderError
from ..settings import Settings
from .base import Provider

__all__ = ["get_provider", "is_local"]

LOCAL_NAMES = {"local", "embedded", "offline"}


def is_local(model: str) -> bool:
    """Whether ``model`` names the embedded model.

    >>> is_local("local"), is_local("Local"), is_local("gpt-4.1-mini")
    (True, True, False)
    """
    return model.strip().casefold() in LOCAL_NAMES


def get_provider(model: str, settings: Settings) -> Provider:
    """A provider able to serve ``model`` (``local`` is the embedded offline model)."""
    if is_local(model):
        from .local import LocalProvider

        return LocalProvider(settings)
    if not model.strip():
        raise ProviderError("a step names no model. Write a model name or 'local'.")
    from .openai import OpenAIProvider

    return OpenAIProvider(model, settings)
