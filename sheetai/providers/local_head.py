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
    l2: float = 1e-3,
    steps: int = 300,
    learning_rate: float = 0.5,
) -> SoftmaxHead:
    """Fit multinomial logistic regression by full-batch gradient descent with momentum.

    Unit-length embeddings keep the problem well scaled, so a fixed step size converges; L2
    keeps a head trained on a handful of rows from becoming over-confident.
    """
    n, dim = x.shape
    weight = np.ones(n) if sample_weight is None else sample_weight.astype(float)
    weight = weight / weight.sum()
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), y] = 1.0
    w = np.zeros((dim, classes))
    b = np.zeros(classes)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    scale = 1.0 / max(float(np.mean(np.sum(x * x, axis=1))), 1e-9)
    for _ in range(steps):
        p = softmax(x @ w + b)
        error = (p - onehot) * weight[:, None]
        grad_w = x.T @ error + l2 * w
        grad_b = error.sum(axis=0)
        vw = 0.9 * vw - learning_rate * scale * grad_w * 20
        vb = 0.9 * vb - learning_rate * grad_b
        w, b = w + vw, b + vb
    return SoftmaxHead(w, b)
