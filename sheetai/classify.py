"""Classify free-standing texts (not sheet rows): what ``=AICLASSIFY()`` and ``/v1/classify`` use.

Items with the same labels, instructions and model are answered together by the same providers
as a sync, through the shared :class:`~sheetai.cache.ResultCache`, so a recalculation costs
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from .cache import ResultCache, cache_key
from .config import parse_labels
from .errors import SheetAIError
from .providers.base import Budget, Provider, RowInput, RunOptions
from .providers.registry import get_provider
from .settings import Settings
from .steps import Step, Task

__all__ = ["ClassifyItem", "ClassifyResult", "classify_items"]


class ClassifyItem(BaseModel):
    """One text to classify; a label may carry a description (``"Bug: something broke"``)."""

    text: str = Field(max_length=20_000)
    labels: list[str] = Field(min_length=2, max_length=200)
    instructions: str = ""
    model: str | None = None


class ClassifyResult(BaseModel):
    """The answer for one item, or the reason there is none."""

    label: str | None = None
    confidence: float | None = None
    reasoning: str = ""
    cached: bool = False
    error: str | None = None


def classify_items(
    items: Sequence[ClassifyItem],
    settings: Settings | None = None,
    cache: ResultCache | None = None,
    provider_for: Callable[[str, Settings], Provider] = get_provider,
) -> list[ClassifyResult]:
    """Answer ``items`` in order; an item that fails gets ``error`` and the others go on."""
    settings = settings or Settings()
    own_cache = cache is None
    cache = cache or ResultCache.for_settings(settings)
    results: list[ClassifyResult | None] = [None] * len(items)
    try:
        groups: dict[tuple[str, tuple[str, ...], str], list[int]] = {}
        for index, item in enumerate(items):
            model = item.model or settings.default_model
            groups.setdefault((model, tuple(item.labels), item.instructions), []).append(index)
        for (model, labels, instructions), indexes in groups.items():
            _answer_group(
                items,
                indexes,
                model,
                list(labels),
                instructions,
                settings,
                cache,
                provider_for,
                results,
            )
    finally:
        if own_cache:
            cache.close()
    return [r or ClassifyResult(error="no answer") for r in results]


def _answer_group(
    items: Sequence[ClassifyItem],
    indexes: list[int],
    model: str,
    labels: list[str],
    instructions: str,
    settings: Settings,
    cache: ResultCache,
    provider_for: Callable[[str, Settings], Provider],
    results: list[ClassifyResult | None],
) -> None:
    step = Step(
        name="aiclassify",
        sheet="",
        inputs=["text"],
        task=Task.CLASSIFY,
        instructions=instructions,
        labels=parse_labels("\n".join(labels)),
        labels_text="\n".join(labels),
        output="label",
        model=model,
    )
    keys = {
        i: cache_key("classify", model, step.fingerprint(), items[i].text.strip()) for i in indexes
    }
    known = cache.get_many(keys.values())
    missing: dict[str, RowInput] = {}
    for i in indexes:
        if keys[i] in known:
            results[i] = ClassifyResult(**known[keys[i]], cached=True)
        elif not items[i].text.strip():
            results[i] = ClassifyResult(error="empty text")
        else:
            missing.setdefault(keys[i], RowInput(key=keys[i], text=items[i].text.strip()))
    if not missing:
        return
    try:
        provider = provider_for(model, settings)
        try:
            provider.check(step)
            # The same cost cap as a sync: /v1/classify is reachable by every sheet's secret.
            options = RunOptions(budget=Budget(settings.max_cost_usd))
            answers = {r.key: r for r in provider.run(step, list(missing.values()), [], options)}
        finally:
            provider.close()
    except SheetAIError as error:
        for i in indexes:
            if results[i] is None:
                results[i] = ClassifyResult(error=str(error))
        return
    fresh = {}
    for key, answer in answers.items():
        if answer.status == "ok":
            fresh[key] = {
                "label": answer.values[0],
                "confidence": answer.confidence,
                "reasoning": answer.reasoning,
            }
    cache.put_many(fresh)
    for i in indexes:
        if results[i] is not None:
            continue
        found = answers.get(keys[i])
        if found is None or found.status != "ok":
            reason = found.error if found is not None else ""
            results[i] = ClassifyResult(error=reason or "the model gave no valid answer")
        else:
            results[i] = ClassifyResult(**fresh[keys[i]])
