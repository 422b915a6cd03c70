"""Quality metrics over reviewed rows: pure functions of labels, predictions and weights.

Every function takes the true labels, the predicted labels and optional per-row weights (from
:func:`poststratified_weights`, so that a sample which over-draws some rows still stands for
the whole sheet). Unweighted results match scikit-learn's (the tests check it); it is not a
runtime dependency.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = [
    "LabelScores",
    "Band",
    "CoveragePoint",
    "accuracy",
    "wilson_interval",
    "effective_size",
    "confusion_matrix",
    "per_label_scores",
    "macro_f1",
    "cohen_kappa",
    "confidence_bands",
    "expected_calibration_error",
    "coverage_curve",
    "suggest_threshold",
    "poststratified_weights",
    "DEFAULT_BAND_EDGES",
]

DEFAULT_BAND_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _weights(n: int, weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} rows")
    return [float(w) for w in weights]


def accuracy(
    y_true: Sequence[str], y_pred: Sequence[str], weights: Sequence[float] | None = None
) -> float:
    """Share of rows whose prediction is the true label (weighted).

    >>> accuracy(["a", "b", "b"], ["a", "b", "a"])
    0.6666666666666666
    """
    w = _weights(len(y_true), weights)
    total = sum(w)
    if total <= 0:
        return float("nan")
    return sum(wi for t, p, wi in zip(y_true, y_pred, w, strict=True) if t == p) / total


def effective_size(weights: Sequence[float]) -> float:
    """Kish's effective sample size, ``(sum w)^2 / sum w^2``: n for equal weights.

    >>> effective_size([1, 1, 1, 1]), effective_size([3, 1])
    (4.0, 1.6)
    """
    square = sum(w * w for w in weights)
    return sum(weights) ** 2 / square if square > 0 else 0.0


def wilson_interval(p: float, n: float, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for a proportion ``p`` seen on ``n`` rows (95 % by default).

    ``n`` may be an effective (non-integer) size for a weighted estimate.

    >>> [round(x, 4) for x in wilson_interval(8 / 10, 10)]
    [0.4902, 0.9433]
    >>> wilson_interval(1.0, 0)
    (0.0, 1.0)
    """
    if n <= 0:
        return 0.0, 1.0
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def confusion_matrix(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    weights: Sequence[float] | None = None,
) -> list[list[float]]:
    """Rows are true labels, columns predictions, in the order of ``labels``.

    >>> confusion_matrix(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    [[1.0, 1.0], [0.0, 1.0]]
    """
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0.0] * len(labels) for _ in labels]
    for t, p, w in zip(y_true, y_pred, _weights(len(y_true), weights), strict=True):
        if t in index and p in index:
            matrix[index[t]][index[p]] += w
    return matrix


@dataclass
class LabelScores:
    """Precision, recall and F1 of one label; ``support`` is its (weighted) true count."""

    precision: float
    recall: float
    f1: float
    support: float


def per_label_scores(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    weights: Sequence[float] | None = None,
) -> dict[str, LabelScores]:
    """Scores per label; a ratio with nothing to divide by is 0 (scikit-learn's default).

    >>> s = per_label_scores(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    >>> s["a"].precision, s["a"].recall, round(s["b"].f1, 3)
    (1.0, 0.5, 0.667)
    """
    w = _weights(len(y_true), weights)
    tp: dict[str, float] = defaultdict(float)
    predicted: dict[str, float] = defaultdict(float)
    actual: dict[str, float] = defaultdict(float)
    for t, p, wi in zip(y_true, y_pred, w, strict=True):
        predicted[p] += wi
        actual[t] += wi
        if t == p:
            tp[t] += wi
    scores = {}
    for label in labels:
        precision = tp[label] / predicted[label] if predicted[label] else 0.0
        recall = tp[label] / actual[label] if actual[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = LabelScores(precision, recall, f1, actual[label])
    return scores


def macro_f1(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
) -> float:
    """Unweighted mean of per-label F1 over ``labels`` (default: labels seen in either list).

    >>> round(macro_f1(["a", "a", "b"], ["a", "b", "b"]), 4)
    0.6667
    """
    chosen = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    if not chosen:
        return float("nan")
    scores = per_label_scores(y_true, y_pred, chosen, weights)
    return sum(s.f1 for s in scores.values()) / len(chosen)


def cohen_kappa(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    weights: Sequence[float] | None = None,
) -> float:
    """Agreement beyond chance between the answers and the reviewer: 1 perfect, 0 chance.

    >>> cohen_kappa(["a", "b", "a", "b"], ["a", "b", "b", "a"])
    0.0
    """
    w = _weights(len(y_true), weights)
    total = sum(w)
    if total <= 0:
        return float("nan")
    observed = accuracy(y_true, y_pred, w)
    true_share: Counter[str] = Counter()
    pred_share: Counter[str] = Counter()
    for t, p, wi in zip(y_true, y_pred, w, strict=True):
        true_share[t] += wi / total  # type: ignore[assignment]
        pred_share[p] += wi / total  # type: ignore[assignment]
    expected = sum(true_share[k] * pred_share[k] for k in true_share)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1 - expected)


@dataclass
class Band:
    """Reviewed rows whose confidence lies in ``[low, high)`` (the last band includes 1)."""

    low: float
    high: float
    reviewed: int
    accuracy: float | None
    mean_confidence: float | None

    @property
    def name(self) -> str:
        return f"{self.low:.2f}–{self.high:.2f}"


def _band_index(confidence: float, edges: Sequence[float]) -> int:
    for i in range(len(edges) - 1):
        if confidence < edges[i + 1]:
            return i
    return len(edges) - 2


def confidence_bands(
    confidences: Sequence[float],
    correct: Sequence[bool],
    edges: Sequence[float] = DEFAULT_BAND_EDGES,
) -> list[Band]:
    """Accuracy per confidence band: an honest confidence has accuracy ≈ mean confidence.

    >>> [(b.reviewed, b.accuracy) for b in confidence_bands([0.3, 0.95, 0.99], [False, True, False],
    ...                                                     (0.0, 0.5, 1.0))]
    [(1, 0.0), (2, 0.5)]
    """
    members: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for c, ok in zip(confidences, correct, strict=True):
        members[_band_index(c, edges)].append((c, ok))
    bands = []
    for i in range(len(edges) - 1):
        rows = members.get(i, [])
        bands.append(
            Band(
                edges[i],
                edges[i + 1],
                len(rows),
                sum(ok for _, ok in rows) / len(rows) if rows else None,
                sum(c for c, _ in rows) / len(rows) if rows else None,
            )
        )
    return bands


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Mean gap between confidence and accuracy over ``bins`` equal-width bins, row-weighted.

    >>> expected_calibration_error([0.9, 0.9, 0.6, 0.6], [True, True, True, False], bins=10)
    0.1
    """
    if not confidences:
        return float("nan")
    edges = [i / bins for i in range(bins + 1)]
    gap = 0.0
    for band in confidence_bands(confidences, correct, edges):
        if band.reviewed and band.accuracy is not None and band.mean_confidence is not None:
            gap += band.reviewed * abs(band.accuracy - band.mean_confidence)
    return round(gap / len(confidences), 12)


@dataclass
class CoveragePoint:
    """With ``Min confidence`` = ``threshold``: the share of sheet rows kept unflagged, and the
    estimated accuracy of those rows (``None`` when no reviewed row is that confident)."""

    threshold: float
    coverage: float
    accuracy: float | None
    reviewed: int


def coverage_curve(
    confidences: Sequence[float],
    correct: Sequence[bool],
    population: Sequence[float],
    weights: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
) -> list[CoveragePoint]:
    """The coverage/accuracy trade-off of a confidence threshold.

    Args:
        confidences: confidence of each reviewed row.
        correct: whether each reviewed row's answer was right.
        population: confidence of every answered row of the sheet (for coverage).
        weights: reviewed rows' weights.
        thresholds: thresholds to try (default 0.00, 0.05, ..., 0.95).

    >>> [(p.threshold, p.coverage, p.accuracy) for p in coverage_curve(
    ...     [0.2, 0.8], [False, True], [0.2, 0.8, 0.9, 0.1], thresholds=[0.0, 0.5])]
    [(0.0, 1.0, 0.5), (0.5, 0.5, 1.0)]
    """
    w = _weights(len(confidences), weights)
    steps = thresholds if thresholds is not None else [i / 20 for i in range(20)]
    points = []
    for t in steps:
        kept = [(ok, wi) for c, ok, wi in zip(confidences, correct, w, strict=True) if c >= t]
        mass = sum(wi for _, wi in kept)
        covered = sum(1 for c in population if c >= t) / len(population) if population else 0.0
        points.append(
            CoveragePoint(
                t,
                covered,
                sum(wi for ok, wi in kept if ok) / mass if mass > 0 else None,
                len(kept),
            )
        )
    return points


def suggest_threshold(
    curve: Sequence[CoveragePoint], target: float, min_reviewed: int = 10
) -> float | None:
    """The lowest threshold (most coverage) whose accuracy reaches ``target`` on at least
    ``min_reviewed`` reviewed rows, so one lucky row never sets it; None if none does.

    >>> curve = [CoveragePoint(0.0, 1.0, 0.8, 40), CoveragePoint(0.5, 0.7, 0.92, 25),
    ...          CoveragePoint(0.9, 0.2, 1.0, 3)]
    >>> suggest_threshold(curve, 0.9), suggest_threshold(curve, 0.95)
    (0.5, None)
    """
    for point in sorted(curve, key=lambda p: p.threshold):
        if (
            point.accuracy is not None
            and point.reviewed >= min_reviewed
            and point.accuracy >= target
        ):
            return point.threshold
    return None


def poststratified_weights(
    sample_strata: Sequence[Hashable],
    population_strata: Sequence[Hashable],
    parent: dict[Hashable, Hashable] | None = None,
) -> list[float]:
    """Weights that make a stratified sample stand for the whole population.

    Each reviewed row of stratum *h* gets ``N_h / n_h`` (rows on the sheet per reviewed row),
    so over-drawn strata (the lowest-confidence rows, small labels) count for what they are.
    A population stratum with no reviewed row hands its rows to reviewed strata with the same
    ``parent`` (e.g. the same predicted label), in proportion to their size; with no such
    sibling its rows are left out (the estimate then stands for the strata that were
    reviewed). A reviewed row whose stratum is not in the population stands for itself.

    >>> poststratified_weights(["a", "a", "b"], ["a"] * 8 + ["b"] * 2)
    [4.0, 4.0, 2.0]
    >>> poststratified_weights(["lo", "x"], ["lo"] + ["x"] * 3 + ["y"] * 4,
    ...                        parent={"lo": "x", "x": "x", "y": "y"})
    [1.0, 3.0]
    """
    parent = parent or {}
    sampled = Counter(sample_strata)
    population = Counter(population_strata)
    mass: dict[Hashable, float] = {h: float(population.get(h, n)) for h, n in sampled.items()}
    for stratum, size in population.items():
        if stratum in sampled:
            continue
        family = parent.get(stratum, stratum)
        siblings = [h for h in sampled if parent.get(h, h) == family]
        sibling_total = sum(population.get(h, 0) for h in siblings)
        for h in siblings:
            share = population.get(h, 0) / sibling_total if sibling_total else 1 / len(siblings)
            mass[h] += size * share
    return [mass[h] / sampled[h] for h in sample_strata]


def unrepresented_share(
    sample_strata: Sequence[Hashable],
    population_strata: Sequence[Hashable],
    parent: dict[Hashable, Hashable] | None = None,
) -> float:
    """The share of the population whose stratum family has no reviewed row at all.

    Those rows are left out of a post-stratified estimate, which then stands only for the rest.

    >>> unrepresented_share(["Positive"], ["Positive"] * 10 + ["Neutral"] * 90)
    0.9
    """
    parent = parent or {}
    families = {parent.get(h, h) for h in sample_strata}
    if not population_strata:
        return 0.0
    missing = sum(1 for h in population_strata if parent.get(h, h) not in families)
    return missing / len(population_strata)
