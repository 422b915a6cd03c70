"""The quality report of one classify step: how good are the answers the sheet holds now.

Honest means three things. The headline ``accuracy`` is that of the answers on the sheet, not
of a model that could give them. When those answers come from a model that learnt from the
reviewed rows (the embedded model trains on gold and reviewed labels when a step runs), each
reviewed row is judged by a model that did not learn from it (k-fold cross-fitting), never by
an answer that copied its label. And a sample that over-draws some rows (the lowest-confidence
ones, small labels) is weighted by stratum (:mod:`sheetai.quality.estimate`), so the accuracy
stands for the whole sheet. What a model that learnt from every reviewed row would score is
reported apart, as ``projected_accuracy``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# How the step's model answers reviewed rows it never saw: the provider registry says
# (``sheetai.providers.registry.held_out``).
from ..providers.registry import HeldOut
from ..steps import Example, Step
from . import metrics as m
from .data import SheetRow, StepData
from .estimate import INTERVAL_METHOD, sample_weights, sheet_accuracy

__all__ = ["StepReport", "HeldOut", "build_report"]


@dataclass
class StepReport:
    """Everything ``sheetai qc`` shows for one step (the ``--json`` fields)."""

    step: str
    model: str
    answered: int
    reviewed: int
    method: str
    sheet: str = ""
    accuracy: float | None = None
    accuracy_ci: list[float] | None = None
    weighting: str = "equal"
    interval_method: str = INTERVAL_METHOD
    projected_accuracy: float | None = None
    projected_accuracy_ci: list[float] | None = None
    projected_by: str | None = None
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

    @property
    def headline(self) -> str:
        """What the accuracy stands for, in one line."""
        if self.accuracy is None or not self.accuracy_ci:
            return f"accuracy unknown: no reviewed rows of step '{self.step}'"
        low, high = self.accuracy_ci
        weighted = {"design": ", weighted by stratum", "post-stratified": ", weighted by answer"}
        return (
            f"accuracy {self.accuracy:.2f} [{low:.2f}, {high:.2f}] of the {self.answered:,} "
            f"answers on '{self.sheet}' now (estimated from {self.reviewed:,} reviewed rows"
            f"{weighted.get(self.weighting, '')})"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "headline": self.headline}


# Unreviewed rows whose answers are compared with a model that learnt from no reviewed row, to
# tell whether the sheet's answers learnt from the reviews; answers are deterministic, so a few
# disagreements (a person's edits) are all that a model that learnt none can show.
_CHECKED_ROWS = 200
_SAME_MODEL = 0.98


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or value != value:  # NaN: nothing to measure
        return None
    return round(value, digits)


def _spread(rows: Sequence[SheetRow], count: int) -> list[SheetRow]:
    """Up to ``count`` rows spread evenly over ``rows`` (reproducible, no seed)."""
    if len(rows) <= count:
        return list(rows)
    return [rows[i * len(rows) // count] for i in range(count)]


@dataclass
class _Judged:
    """What stands for the unreviewed rows' answers, per reviewed row, and how it was chosen."""

    answers: list[str]
    confidence: list[float]
    method: str
    before: list[str] = field(default_factory=list)
    projected: list[str] = field(default_factory=list)


def _judge(
    step: Step, reviewed: Sequence[SheetRow], unreviewed: Sequence[SheetRow], held: HeldOut | None
) -> _Judged:
    """Judge the sheet's answers by the reviewed rows' own answers, or by cross-fitting when the
    sheet's answers come from a model that learnt from the reviewed rows."""
    on_sheet = [r.answer or "" for r in reviewed]
    sheet_confidence = [r.confidence if r.confidence is not None else 0.0 for r in reviewed]
    if held is None:
        return _Judged(on_sheet, sheet_confidence, "the answers on the sheet")
    out_of_fold, before = held
    answers_before = before(step, [r.text for r in reviewed])
    examples = [Example(text=r.text, label=r.gold or "") for r in reviewed]
    projected = out_of_fold(step, examples) if len(reviewed) >= 2 else answers_before
    judged = _Judged(
        on_sheet,
        sheet_confidence,
        "the answers on the sheet (every answered row was reviewed)",
        [label for label, _ in answers_before],
        [label for label, _ in projected],
    )
    checked = _spread([r for r in unreviewed if not r.edited], _CHECKED_ROWS)
    if not checked:
        return judged
    unlearnt = before(step, [r.text for r in checked])
    same = sum(r.answer == label for r, (label, _) in zip(checked, unlearnt, strict=True))
    # A person's edit stands for the edits on unreviewed rows; any other answer is judged by
    # the model that answered the unreviewed rows, without the row's label.
    chosen = answers_before if same >= _SAME_MODEL * len(checked) else projected
    judged.answers = [
        r.answer or "" if r.edited else label
        for r, (label, _) in zip(reviewed, chosen, strict=True)
    ]
    judged.confidence = [
        s if r.edited else c
        for r, s, (_, c) in zip(reviewed, sheet_confidence, chosen, strict=True)
    ]
    if chosen is answers_before:
        judged.method = (
            "the answers on the sheet, given by the embedded model before it learnt from any "
            f"reviewed row (its answers match such a model's on {same} of {len(checked)} "
            "unreviewed rows checked)"
        )
    else:
        judged.method = (
            "cross-fitted: the sheet's answers come from a model that learnt from the reviewed "
            "rows, so each reviewed row is judged by a model that did not learn from it "
            f"(answers match a model that learnt none on only {same} of {len(checked)} "
            "unreviewed rows checked)"
        )
    return judged


def build_report(
    data: StepData,
    *,
    target: float = 0.9,
    held_out: HeldOut | None = None,
    min_reviewed: int = 10,
) -> StepReport:
    """Measure the answers a step's sheet holds now against its reviewed rows.

    Args:
        data: the step's rows (:func:`~sheetai.quality.data.step_data`).
        target: the accuracy the suggested ``Min confidence`` should reach.
        held_out: for a model that learns from reviewed rows, the functions that answer them
            held-out (for cross-fitting and the projection); None scores the answers on the
            sheet as they stand.
        min_reviewed: reviewed rows a threshold must keep before it can be suggested.
    """
    step = data.step
    labels = step.label_names
    answered = data.answered
    report = StepReport(
        step=step.name,
        model=step.model,
        answered=len(answered),
        reviewed=0,
        method="answers on the sheet",
        sheet=step.sheet,
        target_accuracy=target,
        min_confidence=step.min_confidence,
        labels=list(labels),
        warnings=list(data.warnings),
    )
    counts = Counter(r.answer for r in answered)
    report.label_counts = {label: counts.get(label, 0) for label in labels}
    answered_rows = {r.row for r in answered}
    reviewed = [r for r in data.reviewed if r.row in answered_rows]
    if len(reviewed) < len(data.reviewed):
        report.warnings.append(
            f"step '{step.name}': {len(data.reviewed) - len(reviewed)} reviewed rows have no "
            "answer on the sheet and are left out; run `sheetai run` first."
        )
    report.reviewed = len(reviewed)
    if not reviewed:
        return report
    truth = [r.gold or "" for r in reviewed]
    unreviewed = [r for r in answered if r.gold is None]
    judged = _judge(step, reviewed, unreviewed, held_out)
    report.method = judged.method
    predicted, confidence = judged.answers, judged.confidence

    weighting = sample_weights(reviewed, answered)
    weights = weighting.weights
    report.weighting = weighting.kind
    if weighting.left_out > 0:
        report.warnings.append(
            f"{report.step}: {weighting.left_out:.0%} of the answered rows have no reviewed row "
            f"to stand for them, so the accuracy stands only for the other "
            f"{1 - weighting.left_out:.0%}. Review some rows of every answer (sheetai review "
            "draws them)."
        )
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]
    estimate = sheet_accuracy(truth, [r.answer or "" for r in reviewed], predicted, weights)
    if estimate is not None:
        report.accuracy = _round(estimate.accuracy)
        report.accuracy_ci = [round(estimate.low, 4), round(estimate.high, 4)]
    report.sample_accuracy = _round(m.accuracy(truth, predicted))
    report.macro_f1 = _round(m.macro_f1(truth, predicted, None, weights))
    report.kappa = _round(m.cohen_kappa(truth, predicted, weights))
    if judged.projected:
        report.projected_accuracy = _round(m.accuracy(truth, judged.projected, weights))
        low, high = m.wilson_interval(report.projected_accuracy or 0.0, m.effective_size(weights))
        report.projected_accuracy_ci = [round(low, 4), round(high, 4)]
        report.projected_by = (
            f"re-answering with what {len(reviewed):,} reviewed rows taught the model "
            "(estimated held-out)"
        )
        report.accuracy_after = report.projected_accuracy
        report.accuracy_before = _round(m.accuracy(truth, judged.before, weights))
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
