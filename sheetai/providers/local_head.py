"""The maths of the embedded classifier: similarity to labels, and a small learned head.

Pure numpy so it is testable on any vectors; the embedding model lives in ``local.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["softmax", "zero_shot_probs", "SoftmaxHead", "fit_head", "ZERO_SHOT_TEMPERATURE"]

# e5 cosine similarities sit in a narrow band (about 0.7-0.9); a softmax at this temperature
# spreads them into probabilities whose size roughly matches how often the top label is right
# (chosen by calibration error on labelled reviews; see benchmarks/accuracy.py).
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


def zero_shot_probs(rows: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Probability of each label from cosine similarity to its prototype embedding."""
    return softmax(rows @ prototypes.T, ZERO_SHOT_TEMPERATURE)


# Chosen by cross-validated calibration error on the sample reviews and on Rotten Tomatoes
# snippets (benchmarks/accuracy.py): 0.005 / 160 rows = 3e-5.
_L2_PER_ROW = 0.005


@dataclass
class SoftmaxHead:
    """Multinomial logistic regression on embeddings."""

    weights: np.ndarray  # (dim, classes)
    bias: np.ndarray  # (classes,)

    def probs(self, rows: np.ndarray) -> np.ndarray:
        return softmax(rows @ self.weights + self.bias)


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
