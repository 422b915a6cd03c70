"""Stale answers, and re-answering them once the model has learnt from rows a person labelled.

An answer is **stale** when the model that gave it has since learnt from new labelled rows
(the review tab's corrections, a gold column, kept edits: :func:`~.learning.training_examples`).
Each state record keeps the digest of what its model had learnt from (``taught``; none on
records written before it existed, which were taught by nothing), so planning tells stale rows
from the rest without any model call.

What happens to stale rows depends on how the step's provider learns (``providers/base.py``):

A stale row that a person labelled is always re-answered, with no model call: it takes the
reviewer's label, confidence 1 and the reasoning :data:`REVIEWED`.

* ``learns_free`` (the embedded model): re-answered by itself, but only when the learnt model
  is more accurate on the labelled rows by cross-validation than the one that gave the answers
  (:meth:`~sheetai.providers.base.Provider.relearn_gain`); the accuracy of a learnt model is kept
  in the state's extras (``taught``) so the next comparison is against it.
* ``learns_in_prompt`` (OpenAI-compatible): the labelled rows become few-shot examples
  (:mod:`.fewshot`); re-answering costs money, so it is only offered, and done with
  ``--relearn`` (within ``--max-cost``).

Rows are the sheet's 1-based numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..backends.base import Grid
from ..providers.base import Provider, RowResult
from ..settings import Settings
from ..state import taught_digest
from ..steps import Step
from ..text import cell_text
from .columns import StepColumns
from .fewshot import choose_examples
from .grid import grid_get
from .learning import training_examples
from .plan import Category, RowPlan, StepPlan, row_input
from .summary import StepSummary
from .workbook import run_step

__all__ = [
    "REVIEWED",
    "Relearning",
    "teach",
    "decide",
    "provider_step",
    "reviewed_results",
    "message",
    "note_relearning",
]

REVIEWED = "Reviewed by a person: the label they gave."


@dataclass
class Relearning:
    """What a run does with a step's stale answers, decided once when the run is planned."""

    taught: str = ""  # the digest the stale rows would be re-answered with
    kind: str = ""  # how the provider learns: "free", "prompt" or "" (it does not)
    reanswer: bool = False
    examples: int = 0  # labelled rows (or few-shot examples) the model learns from
    before: float | None = None  # estimated accuracy of the current answers' model
    after: float | None = None  # and of the model that learnt, held out
    cost_usd: float = 0.0  # what re-answering the stale rows is estimated to cost


def teach(
    plan: StepPlan,
    step: Step,
    grid: Grid,
    cols: StepColumns,
    grids: Mapping[str, Grid],
    *,
    history: bool,
    provider: Provider,
    settings: Settings,
    decided: Relearning | None,
) -> None:
    """Fill ``plan``'s training and what the provider learns; mark stale rows (and, when the
    run ``decided`` to re-answer them with what is learnt now, make them run)."""
    plan.training = training_examples(step, grid, cols, plan, grids, trust_edits=history)
    if provider.learns_free:
        plan.taught_by = list(plan.training)
    elif provider.learns_in_prompt and plan.training:
        # Only the examples' texts are looked up: without any, no row's text is made.
        answers = {r.text: cell_text(grid_get(grid, r.row, cols.values[0])) for r in plan.rows}
        plan.taught_by = choose_examples(
            step,
            plan.training,
            answers,
            max_examples=settings.fewshot_max_examples,
            max_tokens=settings.fewshot_max_tokens,
        )
    plan.taught = taught_digest((e.text, e.label) for e in plan.taught_by)
    reanswer = decided is not None and decided.reanswer and decided.taught == plan.taught
    labelled = {e.text for e in plan.training}
    for row in plan.rows:
        if row.category is Category.UNCHANGED and row.record is not None:
            row.stale = row.record.taught != plan.taught
            # A stale row a person labelled takes their label, free whatever the model.
            if row.stale and (reanswer or row.text in labelled):
                row.category = Category.RELEARN


def provider_step(step: Step, plan: StepPlan, provider: Provider) -> Step:
    """The step as the provider sees it, with few-shot examples for a prompt learner."""
    step = run_step(step)
    if provider.learns_in_prompt and plan.taught_by:
        return step.model_copy(update={"examples": [*step.examples, *plan.taught_by]})
    return step


def decide(
    step: Step,
    plan: StepPlan,
    provider: Provider,
    *,
    asked: bool,
    accuracies: dict[str, Any],
) -> Relearning:
    """Whether to re-answer ``plan``'s stale rows this run, and the estimates behind it.

    ``asked``: the caller said ``--relearn``. ``accuracies`` (digest -> held-out accuracy of a
    model that learnt) is the step's entry in the state's extras; a new one is added to it.
    """
    decision = Relearning(taught=plan.taught, examples=len(plan.taught_by))
    stale = [r for r in plan.rows if r.stale]
    if not stale:
        return decision
    if provider.learns_free:
        decision.kind = "free"
        replaced = Counter(r.record.taught if r.record else "" for r in stale).most_common(1)
        known = accuracies.get(replaced[0][0]) if replaced[0][0] else None
        gain = provider.relearn_gain(run_step(step), plan.training, known)
        if gain is not None:
            decision.before, decision.after = gain.before, gain.after
            decision.reanswer = gain.better
            accuracies[plan.taught] = gain.after
            # Only models whose answers are on the sheet can be replaced: forget the others.
            kept = {plan.taught} | {r.record.taught for r in stale if r.record is not None}
            for digest in [d for d in accuracies if d not in kept]:
                del accuracies[digest]
    elif provider.learns_in_prompt:
        decision.kind = "prompt"
        shown = provider_step(step, plan, provider)
        estimate = provider.estimate(shown, [row_input(r) for r in stale])
        decision.cost_usd = estimate.cost_usd
        decision.reanswer = asked
    return decision


def message(step: Step, summary: StepSummary, decision: Relearning, dry_run: bool) -> str:
    """One line on what the run does with the step's stale answers ("" when none are)."""
    verb = "would re-answer" if dry_run else "re-answered"
    if not summary.stale or not decision.kind:
        return ""
    text = _message(step, summary, decision, verb)
    if not decision.reanswer and summary.reanswered:
        shown = "would show" if dry_run else "now show"
        text += f" The {summary.reanswered} stale rows a person labelled {shown} their label."
    return text


def _message(step: Step, summary: StepSummary, decision: Relearning, verb: str) -> str:
    name, taught = step.name, decision.examples
    stale = summary.stale - (0 if decision.reanswer else summary.reanswered)
    if decision.kind == "prompt":
        if decision.reanswer:
            return (
                f"step '{name}': {verb} {summary.reanswered} rows with {taught} reviewed "
                f"examples (--relearn), est. ${decision.cost_usd:.4f}."
            )
        return (
            f"step '{name}': {stale} rows could be re-answered with {taught} reviewed "
            f"examples, est. ${decision.cost_usd:.4f}: run with --relearn to do it."
        )
    if decision.before is None or decision.after is None:
        return (
            f"step '{name}': kept {stale} stale answers: too few reviewed rows to tell whether "
            "the model that learnt from them is better."
        )
    estimate = f"estimated accuracy {decision.before:.2f} → {decision.after:.2f}"
    if decision.reanswer:
        return (
            f"step '{name}': {verb} {summary.reanswered} rows with what {taught} reviewed "
            f"rows taught ({estimate}, cross-validated on those rows)."
        )
    return (
        f"step '{name}': kept {stale} stale answers: the model that learnt from {taught} "
        f"reviewed rows is not more accurate by cross-validation on them ({estimate})."
    )


def note_relearning(
    summary: StepSummary, step: Step, decision: Relearning | None, dry_run: bool
) -> str:
    """Copy the decision's figures to the step's summary; return its message ("" for none)."""
    if decision is None:
        return ""
    summary.taught_by_reviewed = decision.examples
    summary.estimated_accuracy_before = _rounded(decision.before)
    summary.estimated_accuracy_after = _rounded(decision.after)
    summary.relearn_cost_usd = round(decision.cost_usd, 6)
    return message(step, summary, decision, dry_run)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def reviewed_results(
    plan: StepPlan, by_key: Mapping[str, Sequence[RowPlan]]
) -> tuple[list[RowResult], list[str]]:
    """Answers of re-answered rows a person labelled (their label, confidence 1), and the keys
    of the rows left for the model."""
    labels = {e.text: e.label for e in plan.training}
    results, left = [], []
    for key, rows in by_key.items():
        first = rows[0]
        label = labels.get(first.text) if first.category is Category.RELEARN else None
        if label is None:
            left.append(key)
        else:
            results.append(RowResult(key=key, values=[label], reasoning=REVIEWED, confidence=1.0))
    return results, left
