"""Calibration of the embedded model's maths, on synthetic worlds whose true probabilities are known.

The worlds mimic e5's geometry: 384-dimensional unit vectors sharing one large common
direction, so that cosine similarities to the labels sit in a narrow band, as they do for real
text. Labels are drawn from a known softmax, so "how often is the top label right at this
confidence" has a true answer to compare with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sheetai.providers.local import predict_labels
from sheetai.providers.local_head import (
    ZERO_SHOT_TEMPERATURE,
    LabelledModel,
    fit_labelled,
    fit_scale,
    softmax,
    zero_shot_logits,
    zero_shot_probs,
    zero_shot_temperature,
)
from sheetai.quality.metrics import expected_calibration_error
from sheetai.steps import Example, Label, Step, Task

DIM = 384


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.linalg.norm(v, axis=-1, keepdims=True))


@dataclass
class World:
    """Labels drawn from softmax(similarity * label_sense + hidden rule)."""

    rng: np.random.Generator
    prototypes: np.ndarray
    truth: Callable[[np.ndarray], np.ndarray]

    def rows(self, n: int) -> np.ndarray:
        noise = self.rng.normal(size=(n, DIM))
        noise[:, 0] = 0.0
        common = np.zeros(DIM)
        common[0] = 1.0
        return _unit(common + 0.05 * noise)

    def labels(self, rows: np.ndarray) -> np.ndarray:
        p = self.truth(rows)
        return np.asarray((p.cumsum(axis=1) > self.rng.random((len(rows), 1))).argmax(axis=1))


def _world(seed: int, *, label_sense: float, hidden: float = 0.0, classes: int = 3) -> World:
    """``label_sense`` scales label similarity in the true model: 1 means zero-shot is exactly
    calibrated, 0.5 that it is twice too sure, 0 that label names say nothing (codes)."""
    rng = np.random.default_rng(seed)
    common = np.zeros(DIM)
    common[0] = 1.0
    directions = rng.normal(size=(classes, DIM))
    directions[:, 0] = 0.0
    prototypes = _unit(0.9 * common + 0.45 * _unit(directions))
    rule = rng.normal(size=(DIM, classes))
    rule[0] = 0.0

    def truth(rows: np.ndarray) -> np.ndarray:
        return softmax(label_sense * zero_shot_logits(rows, prototypes) + hidden * rows @ rule)

    return World(rng, prototypes, truth)


def _calibration(probs: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(accuracy, mean confidence, expected calibration error) of the top label."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    ece = expected_calibration_error(confidence.tolist(), correct.tolist())
    return float(correct.mean()), float(confidence.mean()), ece


def test_a_lead_keeps_its_share_of_probability_however_many_labels() -> None:
    # One label leads each of its k-1 rivals by the same similarity margin. At one fixed
    # temperature its share melts towards 0 as rivals multiply; the ln k rule keeps it.
    lead = ZERO_SHOT_TEMPERATURE * np.log(3)
    shares, fixed = [], []
    for k in (2, 3, 4, 6, 10, 20, 40):
        prototypes = np.eye(k)
        row = np.full((1, k), 0.8)
        row[0, 0] += lead
        shares.append(float(zero_shot_probs(row, prototypes)[0, 0]))
        fixed.append(float(softmax(row @ prototypes.T, ZERO_SHOT_TEMPERATURE)[0, 0]))
    assert all(0.5 <= s <= 2 / 3 + 1e-9 for s in shares)
    assert fixed[0] > 0.7 and fixed[-1] < 0.1  # what a fixed temperature would have said
    assert zero_shot_temperature(3) == ZERO_SHOT_TEMPERATURE
    assert zero_shot_temperature(1) == zero_shot_temperature(2)  # one label: no division by 0


def test_fit_scale_recovers_a_known_temperature_and_calibrates() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=3.0, size=(4000, 4))
    offset = rng.normal(scale=1.0, size=(4000, 4))
    for true_scale, off in ((0.4, None), (2.0, None), (0.3, offset)):
        base = np.zeros_like(logits) if off is None else off
        p = softmax(true_scale * logits + base)
        y = (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)
        fitted = fit_scale(logits, y, offset=off)
        assert abs(fitted / true_scale - 1) < 0.1, (true_scale, fitted)
    # After scaling, the confidence of the top label matches how often it is right.
    p = softmax(0.4 * logits)
    y = (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)
    raw = _calibration(softmax(logits), y)
    scaled = _calibration(softmax(fit_scale(logits, y) * logits), y)
    assert raw[2] > 0.15 and scaled[2] < 0.03


def test_fit_scale_lets_a_few_rows_only_nudge_the_prior() -> None:
    logits = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
    right = np.array([0, 1, 0])
    assert fit_scale(logits[:0], right[:0]) == 1.0  # nothing to judge by
    few = fit_scale(logits, right)
    many = fit_scale(np.repeat(logits, 100, axis=0), np.repeat(right, 100))
    assert 1.0 < few < many  # all right: sharper, but three rows are weak evidence
    assert fit_scale(np.repeat(logits, 100, axis=0), np.repeat(right, 100), at_most=1.0) == 1.0
    wrong = 1 - right
    assert fit_scale(logits, wrong) < 1.0 and fit_scale(logits, wrong) > 0.2


def _fit_200_and_measure(
    world: World,
) -> tuple[LabelledModel, tuple[float, float, float], tuple[float, float, float]]:
    """Fit on 200 labelled rows; (accuracy, confidence, ECE) on 3,000 fresh rows, zero-shot
    and fitted."""
    x = world.rows(200)
    model = fit_labelled(x, world.labels(x), world.prototypes)
    fresh = world.rows(3000)
    y = world.labels(fresh)
    zero_shot = _calibration(zero_shot_probs(fresh, world.prototypes), y)
    return model, zero_shot, _calibration(model.probs(fresh, world.prototypes), y)


def test_labelled_rows_fix_an_over_confident_label_similarity() -> None:
    # zero-shot is twice too sure
    model, (zs_acc, zs_conf, zs_ece), (acc, conf, ece) = _fit_200_and_measure(
        _world(0, label_sense=0.5)
    )
    assert zs_conf - zs_acc > 0.1 and zs_ece > 0.1
    assert abs(conf - acc) < 0.04 and ece < 0.05
    assert 0.3 < model.zero_shot_weight * model.scale < 0.75  # the truth is 0.5
    assert acc > zs_acc - 0.03  # zero-shot is the best possible rule here: learning costs little


def test_labelled_rows_sharpen_an_under_confident_label_similarity() -> None:
    # zero-shot is twice too unsure
    model, (zs_acc, zs_conf, _), (acc, conf, ece) = _fit_200_and_measure(_world(1, label_sense=2.0))
    assert zs_acc - zs_conf > 0.1
    assert model.zero_shot_weight <= 1.0 and model.scale > 1.2  # sharpening is the scale's job
    assert abs(conf - acc) < 0.04 and ece < 0.05


def test_arbitrary_label_codes_silence_label_similarity() -> None:
    # names like "Zork": similarity is noise
    model, (zs_acc, _, _), (acc, conf, _) = _fit_200_and_measure(
        _world(2, label_sense=0.0, hidden=20.0)
    )
    assert model.zero_shot_weight < 0.2
    assert acc > zs_acc + 0.1
    # The scale is judged on heads fitted to two thirds of the rows, a little weaker than the
    # final head fitted to all: if anything the model then errs on the modest side.
    assert -0.1 < conf - acc < 0.03


def test_a_handful_of_examples_does_not_drag_confidence_towards_uniform() -> None:
    # Zero-shot is exactly calibrated here. Averaging it with a head that L2 keeps near uniform
    # (the old blend) pulled every confidence towards 1/k; adding the head's evidence does not.
    world = _world(4, label_sense=1.0)
    x = world.rows(5)
    model = fit_labelled(x, world.labels(x), world.prototypes, np.zeros(5, dtype=bool))
    fresh = world.rows(3000)
    _, zs_conf, _ = _calibration(zero_shot_probs(fresh, world.prototypes), world.labels(fresh))
    confidence = model.probs(fresh, world.prototypes).max(axis=1).mean()
    assert confidence > 0.95 * zs_conf


def test_config_examples_do_not_set_the_temperature() -> None:
    # An author's examples are often the hard cases: rows label similarity gets wrong. They
    # teach the head but must not convince the model that it is wrong that often everywhere.
    world = _world(5, label_sense=1.0)
    pool = world.rows(400)
    labels = world.labels(pool)
    hard = np.flatnonzero(zero_shot_probs(pool, world.prototypes).argmax(axis=1) != labels)[:6]
    x, y = pool[hard], labels[hard]
    as_examples = fit_labelled(x, y, world.prototypes, np.zeros(len(y), dtype=bool))
    as_sheet_rows = fit_labelled(x, y, world.prototypes, np.ones(len(y), dtype=bool))
    assert as_examples.scale == 1.0
    assert as_sheet_rows.scale < 1.0


def test_the_model_never_claims_certainty() -> None:
    # A row that *is* a label's text is as close to it as a row can be, and its own examples
    # agree: very likely, still not certain, so a "Min confidence" of 1 flags every answer.
    labels = [Label(name="Delivery", description="couriers, parcels and tracking"),
              Label(name="Billing", description="charges, invoices and refunds")]  # fmt: skip
    step = Step(
        name="topic", sheet="Data", inputs=["Text"], task=Task.CLASSIFY, output="Topic",
        labels=labels, model="local",
        examples=[Example(text=label.prompt_text(), label=label.name) for label in labels],
    )  # fmt: skip
    answers = predict_labels(step, [label.prompt_text() for label in labels] * 2)
    assert [a for a, _ in answers] == ["Delivery", "Billing"] * 2
    assert all(0.9 < c < 1.0 for _, c in answers)
