"""The accuracy of the answers a sheet holds now, estimated from its reviewed rows. Pure.

Each reviewed row stands for ``w`` answered rows of the sheet (``w >= 1``): itself, whose
answer is known to be right or wrong, and ``w - 1`` rows nobody reviewed. So the estimate is
exact for the reviewed rows and a weighted estimate for the rest::

    accuracy = (reviewed rows right on the sheet + sum (w - 1) * judged right) / sum w

"Judged" is what stands for the unreviewed rows' answers: the reviewed row's own answer, or,
when the sheet's answers come from a model that learnt from the reviewed rows, the answer of a
model that did not learn from that row (cross-fitting; see :mod:`sheetai.quality.report`).

The 95 % interval is a Wilson score interval for the unreviewed rows' accuracy on Kish's
effective sample size of their weights, ``(sum (w-1))^2 / sum (w-1)^2``, mapped onto the whole
sheet with the reviewed rows' exact share. Unequal weights (an over-drawn low-confidence
stratum, small labels) shrink the effective size, so the interval widens for them; strata
reviewed in full add no uncertainty; the gains of stratification are ignored, which errs wide.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from . import metrics as m
from .data import SheetRow
from .sampling import LOW_STRATUM

__all__ = ["Weighting", "SheetEstimate", "sample_weights", "sheet_accuracy", "INTERVAL_METHOD"]

INTERVAL_METHOD = (
    "Wilson 95% interval for the unreviewed rows on Kish's effective sample size of the "
    "stratum weights; reviewed rows count as known"
)


@dataclass
class Weighting:
    """How many answered rows each reviewed row stands for, and how that was worked out."""

    weights: list[float]
    kind: str  # "design", "post-stratified" or "equal"
    left_out: float  # share of the answered rows no reviewed row stands for

    @property
    def described(self) -> str:
        return {
            "design": "weighted by stratum",
            "post-stratified": "weighted by answer and confidence",
            "equal": "unweighted",
        }[self.kind]


def _design(reviewed: Sequence[SheetRow], answered: int) -> Weighting | None:
    """Weights from the sampling design the review tab recorded; None if it recorded none."""
    if any(r.source != "review" or not r.stratum or not r.stratum_rows for r in reviewed):
        return None
    seen = Counter(r.stratum for r in reviewed)
    sizes = {r.stratum: r.stratum_rows or 0 for r in reviewed}
    weights = [max(1.0, sizes[r.stratum] / seen[r.stratum]) for r in reviewed]
    covered = sum(max(sizes[h], seen[h]) for h in sizes)
    left_out = max(0.0, 1 - covered / answered) if answered else 0.0
    return Weighting(weights, "design", left_out)


def _strata(
    rows: Sequence[SheetRow], low_cut: float | None
) -> tuple[list[Hashable], dict[Hashable, Hashable]]:
    keys: list[Hashable] = []
    parent: dict[Hashable, Hashable] = {}
    for row in rows:
        low = (
            low_cut is not None
            and (row.confidence if row.confidence is not None else -1.0) <= low_cut
        )
        key: Hashable = (row.answer, "low" if low else "rest")
        if row.answer is None:
            key = ("unanswered", row.row)
        keys.append(key)
        parent[key] = row.answer if row.answer is not None else key
    return keys, parent


def _post_stratified(reviewed: Sequence[SheetRow], answered: Sequence[SheetRow]) -> Weighting:
    """Strata rebuilt from the sheet's answers and confidences (a tab without ``Stratum rows``,
    or rows labelled in a gold column)."""
    low_rows = [r.confidence or 0.0 for r in reviewed if r.stratum == LOW_STRATUM]
    low_cut = max(low_rows) if low_rows else None
    sample_keys, parent = _strata(reviewed, low_cut)
    population_keys, population_parent = _strata(answered, low_cut)
    families = {**population_parent, **parent}
    weights = m.poststratified_weights(sample_keys, population_keys, families)
    left_out = m.unrepresented_share(sample_keys, population_keys, families)
    kind = "post-stratified" if len(set(weights)) > 1 else "equal"
    return Weighting([max(1.0, w) for w in weights], kind, left_out)


def sample_weights(reviewed: Sequence[SheetRow], answered: Sequence[SheetRow]) -> Weighting:
    """The design's weights when the review tab recorded them, else post-stratified ones."""
    return _design(reviewed, len(answered)) or _post_stratified(reviewed, answered)


@dataclass
class SheetEstimate:
    """The estimated accuracy of the sheet's answers and its 95 % interval."""

    accuracy: float
    low: float
    high: float


def sheet_accuracy(
    truth: Sequence[str],
    on_sheet: Sequence[str],
    judged: Sequence[str],
    weights: Sequence[float],
) -> SheetEstimate | None:
    """Estimate the accuracy of the answered rows a weighted reviewed sample stands for.

    Args:
        truth: the reviewers' labels.
        on_sheet: the answer each reviewed row holds on the sheet now.
        judged: the answer that stands for the unreviewed rows of its stratum.
        weights: answered rows each reviewed row stands for (itself included).

    Four reviewed rows of eight (each stands for two), three right as they stand:

    >>> e = sheet_accuracy("aabb", "aaba", "aaba", [2, 2, 2, 2])
    >>> e.accuracy, round(e.low, 3), round(e.high, 3)
    (0.75, 0.525, 0.852)

    Every row reviewed: the accuracy is known, the interval has no width.

    >>> e = sheet_accuracy("ab", "ab", "bb", [1, 1])
    >>> e.accuracy, e.low, e.high
    (1.0, 1.0, 1.0)
    """
    if not truth:
        return None
    w = [max(1.0, float(x)) for x in weights]
    total = sum(w)
    known = sum(1.0 for t, a in zip(truth, on_sheet, strict=True) if t == a)
    rest = [x - 1 for x in w]
    rest_total = sum(rest)
    share_known = len(w) / total
    if rest_total <= 0:
        exact = known / total
        return SheetEstimate(exact, exact, exact)
    right = sum(r for t, j, r in zip(truth, judged, rest, strict=True) if t == j)
    estimate = right / rest_total
    low, high = m.wilson_interval(estimate, m.effective_size(rest))
    base = known / total
    scale = 1 - share_known
    return SheetEstimate(base + scale * estimate, base + scale * low, base + scale * high)
