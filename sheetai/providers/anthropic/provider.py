"""Anthropic's Claude models behind the :class:`Provider` interface.

Answers are checked against the step's pydantic model; identical requests are answered from the
shared :class:`~sheetai.cache.ResultCache`, so a rerun never pays twice. ``--batch`` sends rows
to Message Batches at half price (:mod:`.batch`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ...cache import cache_key
from ...errors import ProviderError
from ...settings import Settings
from ...steps import Example, Step, Task
from ...stores.pace import shared_pace
from ..base import (
    BatchOutcome,
    BatchProvider,
    BatchSubmission,
    Budget,
    Estimate,
    OnBatch,
    RowInput,
    RowResult,
    RunOptions,
)
from ..llm.answers import AnswerStore, fan_out, stats_summary
from ..llm.batches import partly_submitted
from ..llm.prompt import prompt_fingerprint, system_prompt
from ..llm.schema import answer_spec
from ..prices import Usage, cost_usd, load_file, price_for
from ..routing import route
from . import batch as batches
from .client import api_key, async_client, check_key, max_tokens, output_method, sync_client
from .request import RunStats, prompt_tokens
from .runner import Job, Runner
from .shapes import Shape

__all__ = ["AnthropicProvider"]

# Output tokens an answer is expected to take, for estimates (max_tokens is the worst case).
_EXPECTED_OUT = {Task.CLASSIFY: 60, Task.SCORE: 60, Task.EXTRACT: 40, Task.GENERATE: 300}


class AnthropicProvider(BatchProvider):
    """One Claude model (``claude-…`` or ``anthropic/NAME`` in the Model column)."""

    learns_in_prompt = True  # labelled rows reach it as few-shot examples in the step

    def __init__(self, model: str, settings: Settings) -> None:
        self.model = model
        self.api_model = route(model).model
        self.settings = settings
        self.price = price_for("anthropic", self.api_model, load_file(settings.prices_file))
        self.price_known = self.price is not None
        self.method = output_method(self.api_model)
        self.stats = RunStats()
        self.answers = AnswerStore(settings)

    # -- the interface

    def check(self, step: Step) -> None:
        check_key(self.settings, step.name, self.model)
        answer_spec(step)

    def shape(self, step: Step) -> Shape:
        spec = answer_spec(step)
        return Shape(
            spec,
            self.api_model,
            system_prompt(spec),
            max_tokens(spec, self.settings.anthropic_max_tokens),
            self.method,
            strict_tool=self.method == "json_schema",  # strict tools came with JSON outputs
        )

    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        shape = self.shape(step)
        todo = self.answers.split(rows, self._keys(shape, rows), shape.spec).todo.values()
        usages = [self._expected(shape, group[0]) for group in todo]
        tokens = sum(u.input_tokens + u.output_tokens for u in usages)
        return Estimate(tokens, sum(cost_usd(self.price, u) or 0.0 for u in usages))

    def run(
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        self.check(step)
        shape = self.shape(step)
        split = self.answers.split(rows, self._keys(shape, rows), shape.spec)
        yield from split.cached
        if not split.todo:
            return
        jobs = [Job([r.key for r in group], group[0].text) for group in split.todo.values()]
        cache_keys = {group[0].key: ck for ck, group in split.todo.items()}

        def keep(result: RowResult) -> None:
            # In the cache before anyone sees it: a kill after it arrived never pays again.
            self.answers.keep(cache_keys[result.key], result)

        settings = self.settings
        workers = options.concurrency or settings.anthropic_concurrency
        base_url = settings.anthropic_base_url or "https://api.anthropic.com"
        runner = Runner(
            shape=shape,
            make_client=lambda: async_client(settings, workers),
            limits=(
                options.rpm or settings.anthropic_rpm,
                options.tpm or settings.anthropic_input_tpm,
                options.output_tpm or settings.anthropic_output_tpm,
            ),
            concurrency=workers,
            max_retries=settings.anthropic_max_retries,
            price=self.price,
            base_url=base_url,
            budget=options.budget,
            stats=self.stats,
            keep=keep,
            reasks=self.settings.max_reasks,
            shared_pace=shared_pace(settings, api_key(settings), base_url),
        )
        yield from fan_out(runner.results(jobs), {job.keys[0]: job.keys for job in jobs})

    def take_stats(self) -> dict[str, Any]:
        stats, self.stats = self.stats, RunStats()
        return stats_summary(stats)

    def close(self) -> None:
        self.answers.close()

    # -- Message Batches

    def submit_batch(
        self,
        step: Step,
        rows: Sequence[RowInput],
        *,
        budget: Budget | None = None,
        on_batch: OnBatch | None = None,
    ) -> BatchSubmission:
        """Answer cached rows now; send the rest as Message Batches (half price, within 24 h).

        With a ``budget``, rows go in, in order, while their estimates at the batch price fit
        under its cap; the rest stay planned and ``problem`` says so.
        """
        self.check(step)
        shape = self.shape(step)
        split = self.answers.split(rows, self._keys(shape, rows), shape.spec)
        cached = split.cached
        answered = {r.key for r in cached}
        todo = [r for r in rows if r.key not in answered]
        costs = [cost_usd(self.price, self._expected(shape, r), batch=True) or 0.0 for r in todo]
        held = budget.reserve_leading(costs) if budget is not None else len(todo)
        capped = ""
        if budget is not None and held < len(todo):
            capped = (
                f"step '{step.name}': stopped submitting at the cost cap ${budget.cap_usd:.4f}: "
                f"{held} of {len(todo)} rows went into batches (at the batch price, half); the "
                f"other {len(todo) - held} stay planned: run again with a higher --max-cost."
            )
        cost_of = {r.key: c for r, c in zip(todo, costs, strict=True)}
        todo = todo[:held]
        if not todo:
            return BatchSubmission(cached, {}, capped)
        client = sync_client(self.settings)
        created: dict[str, list[str]] = {}
        try:
            created = batches.submit(client, shape, [(r.key, r.text) for r in todo], on_batch)
        except batches.PartialSubmitError as partial:
            created = partial.created
            reason = f"{type(partial.cause).__name__}: {str(partial.cause)[:200]}"
            failed = partly_submitted(
                step.name, "the Message Batch", created, reason, partial.cause
            )
            return BatchSubmission(cached, created, " ".join(filter(None, (failed, capped))))
        finally:
            client.close()
            if budget is not None:
                sent = sum(cost_of[k] for ids in created.values() for k in ids)
                budget.settle(sum(costs[:held]), sent)
        return BatchSubmission(cached, created, capped)

    def collect_batch(
        self, step: Step, batch_id: str, rows: Mapping[str, RowInput]
    ) -> BatchOutcome:
        """A batch's state; once ended, its results (also stored in the cache)."""
        shape = self.shape(step)
        client = sync_client(self.settings)
        try:
            outcome = batches.collect(client, batch_id, shape, self.price, rows.keys())
        except Exception as error:
            raise ProviderError(
                f"step '{step.name}': Message Batch {batch_id} could not be read "
                f"({type(error).__name__}: {str(error)[:150]})."
            ) from error
        finally:
            client.close()
        self.answers.keep_many(outcome.results, self._keys(shape, list(rows.values())))
        return outcome

    # -- helpers

    def _keys(self, shape: Shape, rows: Sequence[RowInput]) -> dict[str, str]:
        prompt = prompt_fingerprint(self.api_model, shape.system, shape.spec.json_schema())
        return {r.key: cache_key("anthropic", self.api_model, prompt, r.text) for r in rows}

    def _expected(self, shape: Shape, row: RowInput) -> Usage:
        """A row's expected tokens, as ``--dry-run`` and the cost cap count them."""
        out = _EXPECTED_OUT[shape.spec.step.task] + 12 * len(shape.spec.fields)
        return Usage(prompt_tokens(shape.body(shape.first(row.text))), out)
