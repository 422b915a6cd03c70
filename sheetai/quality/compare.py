"""Compare before you switch: another model or prompt on the reviewed rows, paired with the
answers the sheet holds.

Both sides are judged on the same rows (those a person labelled), so the difference is tested
with the exact McNemar test: only the rows one side got right and the other wrong say anything
about which is better. Nothing here writes to a workbook; the alternative's answers exist only
in the returned :class:`Comparison`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from ..backends.base import Grid
from ..errors import ConfigError, SheetAIError
from ..providers.base import RowInput, RunOptions
from ..providers.registry import get_provider, held_out
from ..settings import Settings
from ..steps import Example, Step
from . import metrics as m
from .data import SheetRow, StepData
from .summary_tab import overview

__all__ = [
    "MIN_REVIEWED",
    "Side",
    "Comparison",
    "mcnemar_exact",
    "paired_counts",
    "alternative_step",
    "compare_step",
]

#: Reviewed rows a comparison needs before its accuracies mean anything.
MIN_REVIEWED = 10
TEST = "exact McNemar (two-sided binomial test on the rows only one side got right)"


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided p-value of the exact McNemar test on the discordant pairs.

    Under "both are equally good", each of the ``n = only_first + only_second`` rows that one
    side got right and the other wrong is a fair coin toss; the p-value is the chance of a split
    at least as lopsided as the one seen.

    >>> mcnemar_exact(0, 0)
    1.0
    >>> mcnemar_exact(1, 6)  # 2 * (C(7,0) + C(7,1)) / 2**7
    0.125
    >>> round(mcnemar_exact(0, 10), 6)
    0.001953
    >>> mcnemar_exact(5, 5)
    1.0
    """
    n = only_first + only_second
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(only_first, only_second) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_counts(
    truth: Sequence[str], first: Sequence[str | None], second: Sequence[str | None]
) -> tuple[int, int, int, int]:
    """(both right, only the first right, only the second right, both wrong).

    >>> paired_counts(["a", "b", "c", "a"], ["a", "b", "a", "b"], ["a", "c", "c", None])
    (1, 1, 1, 1)
    """
    both = only_first = only_second = neither = 0
    for t, a, b in zip(truth, first, second, strict=True):
        right_a, right_b = a == t, b == t
        if right_a and right_b:
            both += 1
        elif right_a:
            only_first += 1
        elif right_b:
            only_second += 1
        else:
            neither += 1
    return both, only_first, only_second, neither


@dataclass
class Side:
    """One side of a comparison: a model and prompt, its accuracy and what a row costs."""

    model: str
    instructions: str
    answers: str  # how its answers on the reviewed rows were obtained
    correct: int = 0
    accuracy: float | None = None
    accuracy_ci: list[float] | None = None
    cost_per_row_usd: float | None = None
    cost_source: str = ""  # "run log", "spent", "estimate"
    projected_cost_usd: float | None = None  # cost per row x the sheet's rows


@dataclass
class Comparison:
    """What ``sheetai compare`` shows (the ``--json`` fields)."""

    step: str
    sheet: str
    reviewed: int
    sheet_rows: int
    current: Side
    alternative: Side
    both_right: int = 0
    only_current_right: int = 0
    only_alternative_right: int = 0
    both_wrong: int = 0
    alternative_failed: int = 0
    p_value: float = 1.0
    test: str = TEST
    verdict: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def alternative_step(step: Step, model: str | None, instructions: str | None) -> Step:
    """The step as it would be with another model and/or prompt (the config is not touched)."""
    if not model and instructions is None:
        raise ConfigError("compare: give --model, --instructions or both: nothing to compare.")
    update: dict[str, Any] = {"run_model": None}
    if model:
        update["model"] = model.strip()
    if instructions is not None:
        update["instructions"] = instructions
    return step.model_copy(update=update)


def _estimate_per_row(step: Step, texts: Sequence[str], settings: Settings) -> float:
    """What a row the model has never answered costs, by the provider's estimate.

    An empty cache home: answers sheetai already holds would otherwise be estimated at $0.
    """
    if not texts:
        return 0.0
    with tempfile.TemporaryDirectory(prefix="sheetai-compare-") as home:
        provider = get_provider(step.model, settings.model_copy(update={"home": Path(home)}))
        try:
            rows = [RowInput(key=str(i), text=t) for i, t in enumerate(texts)]
            return provider.estimate(step, rows).cost_usd / len(rows)
        finally:
            provider.close()


def _run_alternative(
    step: Step, rows: Sequence[SheetRow], settings: Settings, *, folds: int, seed: int
) -> tuple[list[str | None], float, int, str]:
    """The alternative's label per reviewed row (None: failed), what it spent, on how many
    rows it spent it, and how its answers were obtained."""
    provider = get_provider(step.model, settings)
    try:
        provider.check(step)
        learner = held_out(step.model, folds=folds, seed=seed)
        if learner is not None:
            # A model that learns from reviewed rows must not be judged on rows it learnt from.
            out_of_fold, _ = learner
            examples = [Example(text=r.text, label=r.gold or "") for r in rows]
            answers: list[str | None] = [label for label, _ in out_of_fold(step, examples)]
            how = (
                f"cross-fitted ({folds} folds): each row answered by a model that learnt from "
                "the other reviewed rows only"
            )
            return answers, 0.0, len(rows), how
        inputs = [RowInput(key=str(i), text=r.text) for i, r in enumerate(rows)]
        by_key: dict[str, str | None] = {}
        spent, fresh = 0.0, 0
        for result in provider.run(step, inputs, (), RunOptions()):
            value = result.values[0] if result.values else None
            by_key[result.key] = str(value) if result.status == "ok" and value else None
            if not result.cached:
                spent += result.cost_usd
                fresh += 1
        names = {n.casefold(): n for n in step.label_names}
        answers = [names.get((by_key.get(str(i)) or "").casefold()) for i in range(len(rows))]
        return answers, spent, fresh, "answered now, without the reviewed rows as examples"
    finally:
        provider.close()


def _score(side: Side, correct: int, reviewed: int) -> None:
    side.correct = correct
    side.accuracy = round(correct / reviewed, 4)
    low, high = m.wilson_interval(correct / reviewed, reviewed)
    side.accuracy_ci = [round(low, 4), round(high, 4)]


def _verdict(c: Comparison) -> str:
    alt = f"'{c.alternative.model}'" if c.alternative.model != c.current.model else "the new prompt"
    if c.p_value >= 0.05:
        return (
            f"no significant difference between {alt} and the current answers on these "
            f"{c.reviewed} rows (p = {c.p_value:.3g}); review more rows to tell smaller gaps apart."
        )
    better = c.only_alternative_right > c.only_current_right
    return (
        f"{alt} is {'better' if better else 'worse'} than the current answers "
        f"(p = {c.p_value:.3g})."
    )


def compare_step(
    data: StepData,
    alternative: Step,
    grids: Mapping[str, Grid],
    settings: Settings,
    *,
    folds: int = 5,
    seed: int = 0,
    min_reviewed: int = MIN_REVIEWED,
) -> Comparison:
    """Run ``alternative`` on the step's reviewed rows and pair it with the sheet's answers.

    Args:
        data: the step's rows and reviewed labels (:func:`~sheetai.quality.data.step_data`).
        alternative: the step with another model and/or instructions (:func:`alternative_step`).
        grids: the workbook's tabs, for the run log (what the current answers cost).
        settings: where keys, endpoints and prices come from.
        folds, seed: cross-fitting of an alternative that learns from reviewed rows.
        min_reviewed: fewer reviewed rows than this is an error.

    Raises:
        ConfigError: too few reviewed rows. ProviderError: the alternative cannot run.
    """
    step = data.step
    rows = [r for r in data.reviewed if r.answer is not None]
    warnings = list(data.warnings)
    if len(rows) < len(data.reviewed):
        warnings.append(
            f"step '{step.name}': {len(data.reviewed) - len(rows)} reviewed rows have no answer "
            "on the sheet yet and are left out; run `sheetai run` first."
        )
    if len(rows) < min_reviewed:
        raise ConfigError(
            f"step '{step.name}': {len(rows)} reviewed rows with an answer; compare needs at "
            f"least {min_reviewed}. Run `sheetai review WORKBOOK --step {step.name}` and fill "
            "the 'Correct label' column (or a '<Output> (gold)' column) first."
        )
    sheet_rows = len(data.rows)
    current = Side(step.model, step.instructions, "the answers on the sheet")
    per_row = overview(step, grids).last_run_cost_per_row_usd
    if per_row is not None:
        current.cost_per_row_usd, current.cost_source = per_row, "run log"
    else:
        try:
            current.cost_per_row_usd = _estimate_per_row(step, [r.text for r in rows], settings)
            current.cost_source = "estimate"
        except SheetAIError as error:
            warnings.append(f"step '{step.name}': the current cost is unknown ({error}).")
    answers, spent, fresh, how = _run_alternative(
        alternative, rows, settings, folds=folds, seed=seed
    )
    alt = Side(alternative.model, alternative.instructions, how)
    if fresh:
        alt.cost_per_row_usd, alt.cost_source = spent / fresh, "spent"
    else:
        estimate = _estimate_per_row(alternative, [r.text for r in rows], settings)
        alt.cost_per_row_usd, alt.cost_source = estimate, "estimate (answers came from the cache)"
    for side in (current, alt):
        if side.cost_per_row_usd is not None:
            side.projected_cost_usd = round(side.cost_per_row_usd * sheet_rows, 6)
            side.cost_per_row_usd = round(side.cost_per_row_usd, 8)
    truth = [r.gold or "" for r in rows]
    both, only_current, only_alt, neither = paired_counts(truth, [r.answer for r in rows], answers)
    result = Comparison(
        step=step.name,
        sheet=step.sheet,
        reviewed=len(rows),
        sheet_rows=sheet_rows,
        current=current,
        alternative=alt,
        both_right=both,
        only_current_right=only_current,
        only_alternative_right=only_alt,
        both_wrong=neither,
        alternative_failed=sum(a is None for a in answers),
        p_value=round(mcnemar_exact(only_current, only_alt), 6),
        warnings=warnings,
    )
    _score(current, both + only_current, len(rows))
    _score(alt, both + only_alt, len(rows))
    if result.alternative_failed:
        warnings.append(
            f"step '{step.name}': the alternative gave no valid label for "
            f"{result.alternative_failed} reviewed rows; they count as wrong."
        )
    result.verdict = _verdict(result)
    return result
