"""Choose the provider for a model name from the config tab's Model column.

Every caller that needs something model-specific asks here by the step's model name: the sync
(:func:`get_provider`) and quality control (:func:`held_out`), so a new provider is registered
in one place. Which vendor a name means is :func:`sheetai.providers.routing.route`'s call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import ProviderError
from ..settings import Settings
from ..steps import Example, Step
from .base import Provider
from .routing import route

__all__ = ["HeldOut", "get_provider", "held_out", "is_local"]

#: (step, labelled rows) -> out-of-fold (label, confidence) per row, and (step, texts) ->
#: answers of the model that learnt from no reviewed row.
HeldOut = tuple[
    Callable[[Step, Sequence[Example]], list[tuple[str, float]]],
    Callable[[Step, Sequence[str]], list[tuple[str, float]]],
]

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
    where = route(model)
    if where.vendor == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(model, settings)
    if where.vendor == "gemini":
        from .gemini import GeminiProvider

        return GeminiProvider(model, settings)
    from .openai import OpenAIProvider

    # "openai/NAME" is the OpenAI provider's own "openai:NAME" (OpenAI, or OPENAI_BASE_URL).
    forced = model.strip().casefold().startswith("openai/")
    return OpenAIProvider(f"openai:{where.model}" if forced else model, settings)


def held_out(model: str, *, folds: int, seed: int) -> HeldOut | None:
    """How to answer reviewed rows with a model that never saw them, for a ``model`` that learns
    from reviewed rows (the embedded one); None for a model that does not learn from them, whose
    stored answers are measured as they are.

    >>> held_out("gpt-4.1-mini", folds=5, seed=0) is None
    True
    >>> held_out("Local", folds=5, seed=0) is None
    False
    """
    if not is_local(model):
        return None
    from .local import cross_validated_predictions, predict_labels

    return (
        lambda step, labelled: cross_validated_predictions(step, labelled, folds=folds, seed=seed),
        lambda step, texts: predict_labels(step, texts),
    )
