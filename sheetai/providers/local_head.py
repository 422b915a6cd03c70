"""The maths of the embedded classifier: similarity to labels, and a small learned head.

Pure numpy so it is testable on any vectors; the embedding model lives in ``local.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "softmax",
    "zero_shot_temperature",
    "zero_shot_logits",
    "zero_shot_probs",
    "SoftmaxHead",
    "fit_head",
    "fit_scale",
    "LabelledModel",
    "fit_labelled",
    "ZERO_SHOT_TEMPERATURE",
]

# e5 cosine similarities sit in a narrow band (about 0.7-0.9); a softmax at this temperature
# spreads them into probabilities whose size roughly matches how often the top label is right
# for three labels (chosen by calibration error on labelled reviews; see benchmarks/accuracy.py).
ZERO_SHOT_TEMPERATURE = 0.01


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax.

    >>> softmax(np.array([[0.0, 0.0]])).round(2).tolist()
    [[0.5, 0.5]]
    """
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def zero_shot_temperature(classes: int) -> float:
    """The softmax temperature for similarities to ``classes`` labels.

    At one fixed temperature, the share a label earns by leading each rival by the same
    similarity margin falls like 1/k as rivals multiply: six topics read as unsure, and two
    labels as surer, than three with the same lead. Dividing the temperature by ln k (the
    log-length scaling of softmax attention over many keys) keeps that share near constant: a
    lead of ``ZERO_SHOT_TEMPERATURE * ln 3`` earns between 1/2 and 2/3 whatever k. Anchored so
    that three labels keep the temperature chosen for them.

    >>> [round(zero_shot_temperature(k), 4) for k in (2, 3, 6)]
    [0.0158, 0.01, 0.0061]
    """
    return ZERO_SHOT_TEMPERATURE * math.log(3) / math.log(max(classes, 2))


def zero_shot_logits(rows: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Label-similarity logits: cosine similarity to each label's prototype over the temperature."""
    return np.asarray(rows @ prototypes.T) / zero_shot_temperature(len(prototypes))


def zero_shot_probs(rows: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Probability of each label from cosine similarity to its prototype embedding."""
    return softmax(zero_shot_logits(rows, prototypes))


# Chosen by cross-validated calibration error on the sample reviews and on Rotten Tomatoes
# snippets (benchmarks/accuracy.py): 0.005 / 160 rows = 3e-5.
_L2_PER_ROW = 0.005


@dataclass
class SoftmaxHead:
    """Multinomial logistic regression on embeddings."""

    weights: np.ndarray  # (dim, classes)
    bias: np.ndarray  # (classes,)

    def logits(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows @ self.weights + self.bias)

    def probs(self, rows: np.ndarray) -> np.ndarray:
        return softmax(self.logits(rows))


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    *,
    sample_weight: np.ndarray | None = None,
    l2: float | None = None,
    steps: int = 400,
) -> SoftmaxHead:
    """Fit multinomial logistic regression by Nesterov-accelerated gradient descent.

    The step size is 1/L for L, the Lipschitz constant of the gradient of the mean
    cross-entropy (at most half the largest squared row norm, bias included) plus ``l2``, so
    the descent cannot diverge whatever the data. The L2 penalty shrinks as rows accumulate
    (as with scikit-learn's ``C`` on the summed loss): a head trained on a handful of rows stays
    modest, one trained on hundreds may speak up.
    """
    n, dim = x.shape
    if l2 is None:
        l2 = _L2_PER_ROW / n
    weight = np.ones(n) if sample_weight is None else sample_weight.astype(float)
    weight = weight / weight.sum()
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), y] = 1.0
    lipschitz = 0.5 * (float(np.max(np.sum(x * x, axis=1))) + 1.0) + l2
    step = 1.0 / lipschitz
    w, b = np.zeros((dim, classes)), np.zeros(classes)
    w_prev, b_prev = w, b
    for t in range(1, steps + 1):
        momentum = (t - 1) / (t + 2)
        vw, vb = w + momentum * (w - w_prev), b + momentum * (b - b_prev)
        error = (softmax(x @ vw + vb) - onehot) * weight[:, None]
        w_prev, b_prev = w, b
        w = vw - step * (x.T @ error + l2 * vw)
        b = vb - step * error.sum(axis=0)
    return SoftmaxHead(w, b)


def _log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Summed cross-entropy of integer labels ``y`` under row-wise ``softmax(logits)``."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.sum(log_norm - z[np.arange(len(y)), y]))


# A log-normal prior on a scale, centred on 1 with sd 1 in log space: a factor of e either way
# is unremarkable, so a handful of rows only nudges the scale and a few dozen set it.
_SCALE_PRIOR_SD = 1.0
_LOG_SCALES = np.linspace(-5.0, 2.0, 141)  # e^-5 .. e^2 in 5 % steps: exact enough, and cheap


def fit_scale(
    logits: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray | None = None,
    *,
    at_most: float = math.inf,
) -> float:
    """The scale ``s`` that best explains labels ``y`` as ``softmax(s * logits + offset)``.

    Maximum a posteriori under the log-normal prior above, by a grid over log s (a 1-D
    problem on at most a few hundred rows), no larger than ``at_most``. With no rows it is the
    prior's 1.

    >>> fit_scale(np.zeros((0, 2)), np.zeros(0, dtype=int))
    1.0
    """
    if len(y) == 0:
        return min(1.0, at_most)
    base = np.zeros_like(logits) if offset is None else offset
    log_scales = _LOG_SCALES
    grid = log_scales[log_scales <= math.log(at_most) + 1e-9]
    penalty = 0.5 * (grid / _SCALE_PRIOR_SD) ** 2
    losses = [_log_loss(math.exp(s) * logits + base, y) for s in grid]
    return float(math.exp(grid[int(np.argmin(np.asarray(losses) + penalty))]))


@dataclass
class LabelledModel:
    """Label similarity and a head learnt from labelled rows, as one softmax:
    ``softmax(scale * (zero_shot_weight * zero_shot_logits + head logits))``."""

    head: SoftmaxHead
    zero_shot_weight: float
    scale: float

    def probs(self, rows: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
        logits = self.zero_shot_weight * zero_shot_logits(rows, prototypes) + self.head.logits(rows)
        return softmax(self.scale * logits)


_L2_CANDIDATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)
_MIN_ROWS_TO_TUNE = 30
_MAX_ROWS_TO_TUNE = 600
_FOLDS_FEW_ROWS = 5


def _held_out_logits(
    x: np.ndarray, y: np.ndarray, prototypes: np.ndarray, l2: float | None, folds: int
) -> np.ndarray:
    """Each row's head logits from a head fitted on the other folds (and the label texts)."""
    classes = len(prototypes)
    fold_of = np.arange(len(y)) % folds
    logits = np.zeros((len(y), classes))
    for fold in range(folds):
        test = fold_of == fold
        train = ~test
        head = fit_head(
            np.vstack([x[train], prototypes]),
            np.concatenate([y[train], np.arange(classes)]),
            classes,
            l2=l2,
        )
        logits[test] = head.logits(x[test])
    return logits


def fit_labelled(
    x: np.ndarray,
    y: np.ndarray,
    prototypes: np.ndarray,
    representative: np.ndarray | None = None,
) -> LabelledModel:
    """Learn from labelled rows ``x``/``y`` on top of similarity to the label ``prototypes``.

    The head's evidence multiplies label similarity (their logits add) instead of being averaged
    with it: averaging a calibrated answer with a head that L2 keeps near uniform drags every
    answer towards 1/k, which made a handful of examples *lower* confidence. What the rows can
    judge is judged on held-out predictions (each row answered by heads fitted without it; label
    similarity never learns from rows, so it is held out on all of them):

    - from 30 rows, the head's L2 penalty, by the head's own held-out log-loss (judged through
      the combination instead, it came out too strong: label similarity covered for it);
    - how loud label similarity speaks next to the head (``zero_shot_weight``, at most 1: it may
      be turned down, never sharpened past its own temperature, which is the overall scale's
      job): names that explain the labelled rows keep their say, arbitrary codes ("Zork",
      "B2") fall silent;
    - the overall ``scale`` (temperature scaling), on ``representative`` rows only: a config's
      examples are picked to teach, often the hard cases, so they cannot say how often the
      model is right on ordinary rows; rows labelled in the sheet can.

    Both scales carry a weak prior at 1, so a few rows only nudge them.
    """
    classes = len(prototypes)
    if representative is None:
        representative = np.ones(len(y), dtype=bool)
    sample = np.random.default_rng(0).permutation(len(y))[:_MAX_ROWS_TO_TUNE]
    xs, ys, reps = x[sample], y[sample], representative[sample]
    l2: float | None = None
    if len(y) >= _MIN_ROWS_TO_TUNE:
        best = np.inf
        for candidate in _L2_CANDIDATES:
            logits = _held_out_logits(xs, ys, prototypes, candidate, 3)
            loss = _log_loss(logits, ys)
            if loss < best:
                l2, held_out, best = candidate, logits, loss
    else:
        held_out = _held_out_logits(xs, ys, prototypes, None, min(len(ys), _FOLDS_FEW_ROWS))
    zero_shot = zero_shot_logits(xs, prototypes)
    weight = fit_scale(zero_shot, ys, offset=held_out, at_most=1.0)
    scale = fit_scale(weight * zero_shot[reps] + held_out[reps], ys[reps])
    head = fit_head(
        np.vstack([x, prototypes]), np.concatenate([y, np.arange(classes)]), classes, l2=l2
    )
    return LabelledModel(head, weight, scale)
