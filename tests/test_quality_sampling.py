"""The review sample: reproducible with a seed, stratified by label, lowest confidence included."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sheetai.quality.sampling import (
    LOW_STRATUM,
    Candidate,
    sample_size,
    stratified_sample,
)


def _sheet(n: int, seed: int = 0) -> list[Candidate]:
    rng = random.Random(seed)
    labels = ["Positive"] * 70 + ["Negative"] * 25 + ["Neutral"] * 5
    return [Candidate(row, rng.choice(labels), round(rng.random(), 3)) for row in range(2, n + 2)]


def test_same_seed_same_sample_other_seed_other_sample() -> None:
    rows = _sheet(500)
    first = stratified_sample(rows, 40, seed=11)
    assert first == stratified_sample(rows, 40, seed=11)
    assert first != stratified_sample(rows, 40, seed=12)


def test_the_lowest_confidence_rows_are_always_in() -> None:
    rows = _sheet(500)
    drawn = stratified_sample(rows, 50, seed=1)
    lowest = sorted(rows, key=lambda c: c.confidence or 0)[:10]
    low = [d.candidate for d in drawn if d.stratum == LOW_STRATUM]
    assert sorted(low, key=lambda c: c.row) == sorted(lowest, key=lambda c: c.row)
    for seed in range(5):
        rows_in = {d.candidate.row for d in stratified_sample(rows, 50, seed=seed)}
        assert {c.row for c in lowest} <= rows_in


def test_strata_follow_the_labels_and_every_label_is_seen() -> None:
    rows = _sheet(1000, seed=4)
    drawn = stratified_sample(rows, 100, seed=2)
    random_part = Counter(d.candidate.label for d in drawn if d.stratum != LOW_STRATUM)
    on_sheet = Counter(c.label for c in rows)
    assert sum(random_part.values()) == 80
    for label, count in on_sheet.items():
        expected = 80 * count / len(rows)
        assert abs(random_part[label] - expected) <= 1.5, (label, random_part, on_sheet)
    assert all(d.stratum in (LOW_STRATUM, f"label {d.candidate.label}") for d in drawn)


def test_a_rare_label_gets_at_least_one_row() -> None:
    rows = [Candidate(r, "Common", 0.9) for r in range(2, 200)] + [Candidate(200, "Rare", 0.95)]
    drawn = stratified_sample(rows, 10, seed=0)
    assert any(d.candidate.label == "Rare" for d in drawn)


def test_sample_size() -> None:
    assert sample_size(5000, 0.05) == 250
    assert sample_size(198, 0.05) == 10
    assert sample_size(198, 0.05, minimum=20) == 20
    assert sample_size(4, 0.5) == 4


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300), st.integers(1, 60), st.integers(0, 10_000))
def test_a_sample_never_repeats_or_invents_rows(n: int, size: int, seed: int) -> None:
    rows = _sheet(n, seed)
    drawn = stratified_sample(rows, size, seed)
    picked = [d.candidate.row for d in drawn]
    assert len(picked) == len(set(picked)) == min(size, n)
    assert set(picked) <= {c.row for c in rows}
    assert picked == sorted(picked)
