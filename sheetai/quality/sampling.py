"""Choose which rows a person reviews: stratified by predicted label, lowest confidence first.

Pure and reproducible: the same rows and seed give the same sample.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Candidate",
    "Drawn",
    "sample_size",
    "stratified_sample",
    "stratum_sizes",
    "LOW_STRATUM",
]

LOW_STRATUM = "lowest confidence"


@dataclass(frozen=True)
class Candidate:
    """An answered row: its sheet row number, predicted label and confidence (None if unknown)."""

    row: int
    label: str
    confidence: float | None


@dataclass(frozen=True)
class Drawn:
    """A sampled row and why it was drawn: ``LOW_STRATUM`` or ``label <name>``."""

    candidate: Candidate
    stratum: str


def sample_size(population: int, fraction: float, minimum: int = 10) -> int:
    """``fraction`` of the rows rounded up, at least ``minimum``, at most all of them.

    >>> sample_size(5000, 0.05), sample_size(198, 0.05), sample_size(6, 0.05)
    (250, 10, 6)
    """
    return min(population, max(math.ceil(population * fraction), minimum))


def _allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` draws over strata in proportion to size (largest remainder), at least
    one per stratum while draws last, never more than a stratum holds."""
    labels = sorted(sizes, key=lambda k: (-sizes[k], k))
    quota = {k: 0 for k in labels}
    left = total
    for k in labels:  # every label gets a look first, so rare labels are measured at all
        if left and sizes[k]:
            quota[k], left = 1, left - 1
    while left > 0:
        room = [k for k in labels if quota[k] < sizes[k]]
        if not room:
            break
        population = sum(sizes[k] for k in room)
        shares = {k: total * sizes[k] / population - quota[k] for k in room}
        best = max(room, key=lambda k: (shares[k], sizes[k]))
        quota[best] += 1
        left -= 1
    return quota


def stratified_sample(
    candidates: Sequence[Candidate],
    size: int,
    seed: int,
    low_share: float = 0.2,
) -> list[Drawn]:
    """Draw ``size`` rows: the lowest-confidence ``low_share`` of them, the rest at random
    within each predicted label in proportion to its rows (at least one per label).

    The low-confidence rows and small labels are over-drawn on purpose; ``sheetai qc``
    re-weights them by stratum so the accuracy it reports stands for the whole sheet.
    The result is ordered by row.

    >>> rows = [Candidate(i, "A" if i % 4 else "B", i / 100) for i in range(2, 42)]
    >>> drawn = stratified_sample(rows, 10, seed=1)
    >>> len(drawn), sorted(d.candidate.row for d in drawn if d.stratum == LOW_STRATUM)
    (10, [2, 3])
    >>> drawn == stratified_sample(rows, 10, seed=1)
    True
    """
    size = min(size, len(candidates))
    if size <= 0:
        return []
    by_confidence = sorted(
        candidates, key=lambda c: (c.confidence if c.confidence is not None else -1.0, c.row)
    )
    low_count = min(size, max(1, round(size * low_share)))
    low = by_confidence[:low_count]
    taken = {c.row for c in low}
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        if candidate.row not in taken:
            groups[candidate.label].append(candidate)
    quota = _allocate({k: len(v) for k, v in groups.items()}, size - low_count)
    rng = random.Random(seed)
    drawn = [Drawn(c, LOW_STRATUM) for c in low]
    for label in sorted(groups):
        members = sorted(groups[label], key=lambda c: c.row)
        drawn.extend(Drawn(c, f"label {label}") for c in rng.sample(members, quota[label]))
    return sorted(drawn, key=lambda d: d.candidate.row)


def stratum_sizes(candidates: Sequence[Candidate], drawn: Sequence[Drawn]) -> dict[str, int]:
    """How many answered rows each stratum of ``drawn`` held: every row of the lowest-confidence
    stratum is drawn; a label's stratum holds the rows with that answer outside it.

    >>> rows = [Candidate(i, "A" if i % 4 else "B", i / 100) for i in range(2, 42)]
    >>> stratum_sizes(rows, stratified_sample(rows, 10, seed=1))
    {'lowest confidence': 2, 'label B': 10, 'label A': 28}
    """
    low = {d.candidate.row for d in drawn if d.stratum == LOW_STRATUM}
    sizes: dict[str, int] = {}
    if low:
        sizes[LOW_STRATUM] = len(low)
    for candidate in candidates:
        if candidate.row not in low:
            key = f"label {candidate.label}"
            sizes[key] = sizes.get(key, 0) + 1
    return {k: v for k, v in sizes.items() if k in {d.stratum for d in drawn}}
