"""The quality report of one classify step: how good are its answers, measured honestly.

Honest means two things. When the step's model learns from the reviewed rows (the embedded
model trains on gold and reviewed labels), each reviewed row is answered by a model that did
not see it (k-fold cross-validation) — never scored on a row it learnt from. And a sample
that over-draws some rows (the lowest-confidence ones, small labels) is re-weighted by stratum,
so the accuracy stands for the whole sheet, not for the sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# How the step's model answers reviewed rows it never saw: the provider registry says
# (``sheetai.providers.registry.held_out``).
from ..providers.registry import HeldOut
from ..steps import Example
from . import metrics as m
from .data import LOW_STRATUM, SheetRow, StepData

__all__ = ["StepReport", "HeldOut", "build_report"]


@dataclass
class StepReport:
    """Everything ``sheetai qc`` shows for one step (the ``--json`` fields)."""

    step: str
    model: str
    answered: int
    reviewed: int
    method: str
    accuracy: float | None = None
    accuracy_ci: list[float] | None = None
    sample_accuracy: float | None = None
    macro_f1: float | None = None
    kappa: float | None = None
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    per_label: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    bands: list[dict[str, Any]] = field(default_factory=list)
    ece: float | None = None
    coverage: list[dict[str, Any]] = field(default_factory=list)
    target_accuracy: float = 0.9
    suggested_min_confidence: float | None = None
    min_confidence: float = 0.0
    label_counts: dict[str, int] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or value != value:  # NaN: nothing to measure
        return None
    return round(value, digits)


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


def build_report(
    data: StepData,
    *,
    target: float = 0.9,
    held_out: HeldOut | None = None,
    min_reviewed: int = 10,
) -> StepReport:
    """Measure one step against its reviewed rows.

    Args:
        data: the step's rows (:func:`~sheetai.quality.data.step_data`).
        target: the accuracy the suggested ``Min confidence`` should reach.
        held_out: for a model that learns from reviewed rows, the functions that answer them
            held-out; None scores the answers on the sheet.
        min_reviewed: reviewed rows a threshold must keep before it can be suggested.
    """
    step = data.step
    labels = step.label_names
    answered = data.answered
    reviewed = data.reviewed
    report = StepReport(
        step=step.name,
        model=step.model,
        answered=len(answered),
        reviewed=len(reviewed),
        method="answers on the sheet",
        target_accuracy=target,
        min_confidence=step.min_confidence,
        labels=list(labels),
        warnings=list(data.warnings),
    )
    counts = Counter(r.answer for r in answered)
    report.label_counts = {label: counts.get(label, 0) for label in labels}
    if held_out is None:
        reviewed = [r for r in reviewed if r.answer is not None]
        if len(reviewed) < len(data.reviewed):
            report.warnings.append(
                f"step '{step.name}': {len(data.reviewed) - len(reviewed)} reviewed rows have no "
                "answer yet and are left out; run `sheetai run` first."
            )
    report.reviewed = len(reviewed)
    if not reviewed:
        return report
    truth = [r.gold or "" for r in reviewed]
    if held_out is not None:
        out_of_fold, before = held_out
        examples = [Example(text=r.text, label=r.gold or "") for r in reviewed]
        answers_before = before(step, [r.text for r in reviewed])
        if len(reviewed) >= 2:
            answers = out_of_fold(step, examples)
            report.method = (
                "held-out: cross-validated, each row answered by a model that never saw it"
            )
        else:
            answers = answers_before
            report.method = "held-out: answered by the model without reviewed rows"
        predicted = [label for label, _ in answers]
        confidence = [c for _, c in answers]
    else:
        predicted = [r.answer or "" for r in reviewed]
        confidence = [r.confidence if r.confidence is not None else 0.0 for r in reviewed]
        answers_before = []

    low_rows = [r.confidence or 0.0 for r in reviewed if r.stratum == LOW_STRATUM]
    low_cut = max(low_rows) if low_rows else None
    sample_keys, parent = _strata(reviewed, low_cut)
    population_keys, population_parent = _strata(answered, low_cut)
    weights = m.poststratified_weights(
        sample_keys, population_keys, {**population_parent, **parent}
    )
    left_out = m.unrepresented_share(sample_keys, population_keys, {**population_parent, **parent})
    if left_out > 0:
        report.warnings.append(
            f"{report.step}: {left_out:.0%} of the answered rows have an answer no "
            "reviewed row has, so the accuracy stands only for the other "
            f"{1 - left_out:.0%}. Review some rows of every answer (sheetai review draws them)."
        )
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]

    report.accuracy = _round(m.accuracy(truth, predicted, weights))
    low, high = m.wilson_interval(report.accuracy or 0.0, m.effective_size(weights))
    report.accuracy_ci = [round(low, 4), round(high, 4)]
    report.sample_accuracy = _round(m.accuracy(truth, predicted))
    report.macro_f1 = _round(m.macro_f1(truth, predicted, None, weights))
    report.kappa = _round(m.cohen_kappa(truth, predicted, weights))
    if held_out is not None:
        report.accuracy_after = report.accuracy
        report.accuracy_before = _round(
            m.accuracy(truth, [label for label, _ in answers_before], weights)
        )
    scores = m.per_label_scores(truth, predicted, labels, weights)
    raw_support = Counter(truth)
    report.per_label = {
        label: {
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "f1": round(s.f1, 4),
            "support": raw_support.get(label, 0),
        }
        for label, s in scores.items()
    }
    matrix = m.confusion_matrix(truth, predicted, labels)
    report.confusion = {
        t: {p: int(matrix[i][j]) for j, p in enumerate(labels)} for i, t in enumerate(labels)
    }
    report.bands = [
        {
            "band": band.name,
            "low": band.low,
            "high": band.high,
            "reviewed": band.reviewed,
            "accuracy": _round(band.accuracy),
            "mean_confidence": _round(band.mean_confidence),
        }
        for band in m.confidence_bands(confidence, correct)
    ]
    report.ece = _round(m.expected_calibration_error(confidence, correct))
    population = [r.confidence for r in answered if r.confidence is not None]
    curve = m.coverage_curve(confidence, correct, population, weights)
    report.coverage = [
        {
            "min_confidence": p.threshold,
            "coverage": round(p.coverage, 4),
            "accuracy": _round(p.accuracy),
            "reviewed": p.reviewed,
        }
        for p in curve
    ]
    report.suggested_min_confidence = m.suggest_threshold(curve, target, min_reviewed)
    return report
