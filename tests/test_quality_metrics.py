"""QC metrics against hand-computed cases and against scikit-learn on random data."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from sheetai.quality import metrics as m

LABELS = ["Positive", "Neutral", "Negative"]


def test_hand_computed_case() -> None:
    # 10 reviewed rows, worked out on paper.
    truth = ["P", "P", "P", "P", "N", "N", "N", "X", "X", "X"]
    pred = ["P", "P", "P", "N", "N", "N", "P", "X", "X", "N"]
    assert m.accuracy(truth, pred) == pytest.approx(0.7)
    assert m.confusion_matrix(truth, pred, ["P", "N", "X"]) == [
        [3, 1, 0],
        [1, 2, 0],
        [0, 1, 2],
    ]
    scores = m.per_label_scores(truth, pred, ["P", "N", "X"])
    # P: tp 3, predicted 4, actual 4; N: tp 2, predicted 4, actual 3; X: tp 2, predicted 2, actual 3
    assert scores["P"].precision == pytest.approx(0.75)
    assert scores["P"].recall == pytest.approx(0.75)
    assert scores["N"].precision == pytest.approx(0.5)
    assert scores["N"].recall == pytest.approx(2 / 3)
    assert scores["N"].f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert scores["X"].precision == 1.0 and scores["X"].recall == pytest.approx(2 / 3)
    assert scores["X"].support == 3
    # kappa: p_o = 0.7; p_e = .4*.4 + .3*.4 + .3*.2 = 0.34 -> (0.7-0.34)/0.66
    assert m.cohen_kappa(truth, pred) == pytest.approx(0.36 / 0.66)
    # Wilson 95 %: 7/10 -> [0.3968, 0.8922] (textbook value)
    low, high = m.wilson_interval(0.7, 10)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)


def test_wilson_interval_stays_inside_zero_one_and_narrows_with_n() -> None:
    assert m.wilson_interval(1.0, 20)[1] == 1.0
    assert m.wilson_interval(1.0, 20)[0] == pytest.approx(0.8389, abs=1e-4)
    assert m.wilson_interval(0.0, 20)[0] == 0.0
    wide = m.wilson_interval(0.8, 20)
    narrow = m.wilson_interval(0.8, 2000)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def _random_case(rng: random.Random, n: int) -> tuple[list[str], list[str], list[float]]:
    truth = [rng.choice(LABELS) for _ in range(n)]
    # predictions agree with truth 60 % of the time, so the metrics are not degenerate
    pred = [t if rng.random() < 0.6 else rng.choice(LABELS) for t in truth]
    weights = [rng.choice([1.0, 2.5, 7.0]) for _ in range(n)]
    return truth, pred, weights


@pytest.mark.parametrize("seed", range(8))
def test_metrics_match_scikit_learn_on_random_data(seed: int) -> None:
    rng = random.Random(seed)
    truth, pred, weights = _random_case(rng, rng.randint(5, 300))
    for w in (None, weights):
        assert m.accuracy(truth, pred, w) == pytest.approx(
            sk.accuracy_score(truth, pred, sample_weight=w)
        )
        assert m.macro_f1(truth, pred, None, w) == pytest.approx(
            sk.f1_score(truth, pred, average="macro", sample_weight=w, zero_division=0)
        )
        assert m.cohen_kappa(truth, pred, w) == pytest.approx(
            sk.cohen_kappa_score(truth, pred, sample_weight=w)
        )
        ours = m.confusion_matrix(truth, pred, LABELS, w)
        theirs = sk.confusion_matrix(truth, pred, labels=LABELS, sample_weight=w)
        for our_row, their_row in zip(ours, theirs.tolist(), strict=True):
            assert our_row == pytest.approx(their_row)
        precision, recall, f1, support = sk.precision_recall_fscore_support(
            truth, pred, labels=LABELS, sample_weight=w, zero_division=0
        )
        scores = m.per_label_scores(truth, pred, LABELS, w)
        for i, label in enumerate(LABELS):
            assert scores[label].precision == pytest.approx(precision[i])
            assert scores[label].recall == pytest.approx(recall[i])
            assert scores[label].f1 == pytest.approx(f1[i])
            assert scores[label].support == pytest.approx(support[i])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=60)
)
def test_macro_f1_and_kappa_match_scikit_learn_on_any_labels(pairs: list[tuple[str, str]]) -> None:
    truth = [t for t, _ in pairs]
    pred = [p for _, p in pairs]
    assert m.macro_f1(truth, pred) == pytest.approx(
        sk.f1_score(truth, pred, average="macro", zero_division=0)
    )
    if len(set(truth) | set(pred)) > 1:
        assert m.cohen_kappa(truth, pred) == pytest.approx(sk.cohen_kappa_score(truth, pred))


def test_calibration_bands_and_ece_by_hand() -> None:
    confidence = [0.95, 0.92, 0.55, 0.52, 0.3]
    correct = [True, True, True, False, False]
    bands = m.confidence_bands(confidence, correct)
    by_name = {b.name: b for b in bands}
    assert by_name["0.90–1.00"].reviewed == 2 and by_name["0.90–1.00"].accuracy == 1.0
    assert by_name["0.50–0.60"].accuracy == 0.5
    assert by_name["0.00–0.50"].mean_confidence == pytest.approx(0.3)
    assert by_name["0.70–0.80"].accuracy is None
    # ECE over 10 bins: |1-0.935|*2 + |0.5-0.535|*2 + |0-0.3|*1, over 5 rows
    expected = (0.065 * 2 + 0.035 * 2 + 0.3) / 5
    assert m.expected_calibration_error(confidence, correct) == pytest.approx(expected)


def test_coverage_curve_and_suggested_threshold() -> None:
    rng = random.Random(3)
    confidence = [rng.random() for _ in range(200)]
    # the more confident, the more often right: rows above 0.6 are always right
    correct = [c > 0.6 or rng.random() < 0.5 for c in confidence]
    curve = m.coverage_curve(confidence, correct, confidence)
    assert curve[0].coverage == 1.0 and curve[0].reviewed == 200
    coverages = [p.coverage for p in curve]
    assert coverages == sorted(coverages, reverse=True)
    threshold = m.suggest_threshold(curve, 0.98)
    assert threshold is not None and 0.5 <= threshold <= 0.65
    point = next(p for p in curve if p.threshold == threshold)
    assert point.accuracy is not None and point.accuracy >= 0.98
    assert m.suggest_threshold(curve, 1.01) is None


def test_poststratification_removes_the_bias_of_over_drawing_low_confidence_rows() -> None:
    # A sheet of 1,000 rows: 100 low-confidence rows (40 % right), 900 others (90 % right).
    # True accuracy: (40 + 810) / 1000 = 0.85. The sample takes 20 of each stratum.
    population = ["low"] * 100 + ["rest"] * 900
    sample = ["low"] * 20 + ["rest"] * 20
    correct = [True] * 8 + [False] * 12 + [True] * 18 + [False] * 2
    naive = sum(correct) / len(correct)
    weights = m.poststratified_weights(sample, population)
    assert weights[:20] == [5.0] * 20 and weights[20:] == [45.0] * 20
    truth = ["a"] * 40
    pred = ["a" if ok else "b" for ok in correct]
    assert naive == pytest.approx(0.65)
    assert m.accuracy(truth, pred, weights) == pytest.approx(0.85)
    assert m.effective_size(weights) < 40  # unequal weights: wider interval than 40 rows give


def test_poststratification_hands_an_unreviewed_stratum_to_its_siblings() -> None:
    population = [("A", "low")] * 10 + [("A", "rest")] * 30 + [("B", "rest")] * 60
    sample = [("A", "rest"), ("A", "rest"), ("B", "rest")]
    parent = {key: key[0] for key in set(population)}
    weights = m.poststratified_weights(sample, population, parent)
    assert weights == [20.0, 20.0, 60.0]
    assert math.isclose(sum(weights), 100)


def test_an_estimate_says_which_share_of_the_sheet_it_leaves_out() -> None:
    from sheetai.quality.metrics import unrepresented_share

    population = ["Positive"] * 10 + ["Neutral"] * 90
    assert unrepresented_share(["Positive"] * 10, population) == 0.9
    assert unrepresented_share(["Positive", "Neutral"], population) == 0.0
