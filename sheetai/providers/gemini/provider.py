"""Google Gemini behind the :class:`~sheetai.providers.base.Provider` interface.

Every answer is checked against the step's pydantic model; identical rows are asked once, and
answers go to the shared :class:`~sheetai.cache.ResultCache`, so a rerun never pays twice.
Costs come from each reply's ``usageMetadata`` at the Gemini price table
(:mod:`sheetai.providers.prices`); a model without a price runs with its cost unknown.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ...cache import ResultCache, cache_key
from ...errors import ProviderError
from ...settings import Settings
from ...steps import Example, Step
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
from ..llm.answers import stats_summary
from ..llm.batches import partly_submitted
from ..llm.prompt import prompt_fingerprint, system_prompt
from ..llm.rows import copy_result
from ..llm.schema import AnswerSpec, answer_spec
from ..prices import Usage, cost_usd, load_file, price_for
from ..routing import route
from . import batch as batch_mode
from .client import check_key, make_client
from .request import estimate_tokens, first_turn, generation_config, max_output_tokens
from .runner import Job, Runner, RunStats

__all__ = ["GeminiProvider"]

# Expected answer length (tokens) for estimates, beyond the thinking a model does.
_EXPECTED_OUT = 60


class GeminiProvider(BatchProvider):
    """One Gemini model (``gemini-…`` or ``gemini/NAME`` in the Model column)."""

    # Rows a person labelled reach it as few-shot examples in the step (engine/fewshot.py).
    learns_in_prompt = True

    def __init__(self, model: str, settings: Settings) -> None:
        self.model = model
        self.api_model = route(model).model
        self.settings = settings
        self.price = price_for("gemini", self.api_model, load_file(settings.prices_file))
        self.price_known = self.price is not None
        self.stats = RunStats()
        self._cache: ResultCache | None = None

    # -- the interface

    def check(self, step: Step) -> None:
        check_key(self.settings, step.name, self.model)
        answer_spec(step)

    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        return self._estimate(step, rows, batch=False)

    def run(
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        key = check_key(self.settings, step.name, self.model)
        spec = answer_spec(step)
        keys = self._keys(spec, rows)
        known = self.cache.get_many(set(keys.values()))
        jobs: dict[str, Job] = {}
        for row in rows:
            found = known.get(keys[row.key])
            if found is not None:
                yield _cached(row.key, found, spec)
            elif keys[row.key] in jobs:
                jobs[keys[row.key]].keys.append(row.key)
            else:
                jobs[keys[row.key]] = Job([row.key], row.text)
        if not jobs:
            return
        cache_of = {job.keys[0]: (ck, job) for ck, job in jobs.items()}

        def keep(result: RowResult) -> None:
            # In the cache before anyone sees it: a kill after it arrived never pays for it again.
            if result.status == "ok":
                self.cache.put(cache_of[result.key][0], _to_cache(result))

        settings = self.settings
        workers = options.concurrency or settings.gemini_concurrency
        base_url = settings.gemini_base_url or "https://generativelanguage.googleapis.com"
        runner = Runner(
            spec=spec,
            model=self.api_model,
            config=generation_config(spec, system_prompt(spec), self.api_model),
            make_client=lambda: make_client(settings, key, workers),
            limits=(options.rpm or settings.gemini_rpm, options.tpm or settings.gemini_tpm),
            concurrency=workers,
            max_retries=settings.gemini_max_retries,
            price=self.price,
            budget=options.budget,
            secret=key,
            base_url=base_url,
            stats=self.stats,
            keep=keep,
            reasks=self.settings.max_reasks,
            shared_pace=shared_pace(settings, key, base_url),
        )
        for result in runner.results(list(jobs.values())):
            yield result
            for other in cache_of[result.key][1].keys[1:]:
                yield copy_result(result, other)

    def take_stats(self) -> dict[str, Any]:
        stats, self.stats = self.stats, RunStats()
        return stats_summary(stats)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    # -- batch mode

    def submit_batch(
        self,
        step: Step,
        rows: Sequence[RowInput],
        *,
        budget: Budget | None = None,
        on_batch: OnBatch | None = None,
    ) -> BatchSubmission:
        """Answer cached rows now; send the rest as inline batches (half price, within 24 h).

        With a ``budget``, rows go in, in order, while their estimates at the batch price fit;
        the rest stay for a later run and ``problem`` says so.
        """
        key = check_key(self.settings, step.name, self.model)
        spec = answer_spec(step)
        system = system_prompt(spec)
        keys = self._keys(spec, rows)
        known = self.cache.get_many(set(keys.values()))
        cached = [_cached(r.key, known[keys[r.key]], spec) for r in rows if keys[r.key] in known]
        todo = [r for r in rows if keys[r.key] not in known]
        costs = [self._row_cost(spec, system, r, batch=True) for r in todo]
        held = budget.reserve_leading(costs) if budget is not None else len(todo)
        problem = ""
        if budget is not None and held < len(todo):
            problem = (
                f"step '{step.name}': stopped submitting at the cost cap ${budget.cap_usd:.4f}: "
                f"{held} of {len(todo)} rows went into batches (at the batch price); the other "
                f"{len(todo) - held} stay planned: run again with a higher --max-cost."
            )
        if not held:
            return BatchSubmission(cached, {}, problem)
        config = generation_config(spec, system, self.api_model)
        requests = [
            (r.key, {"contents": first_turn(r.text), "config": config, "metadata": {"key": r.key}})
            for r in todo[:held]
        ]
        client = make_client(self.settings, key)
        created: dict[str, list[str]] = {}
        try:
            created = batch_mode.submit(client, self.api_model, requests, step.name, on_batch)
        except batch_mode.PartialSubmit as partial:
            created = partial.created
            reason = f"{type(partial.cause).__name__}: {partial.cause}"[:200]
            failed = partly_submitted(step.name, "the Gemini batch", created, reason, partial.cause)
            problem = " ".join(filter(None, (problem, failed)))
        finally:
            client.close()
            if budget is not None:
                cost_of = {r.key: c for r, c in zip(todo, costs, strict=False)}
                sent = sum(cost_of[k] for ids in created.values() for k in ids)
                budget.settle(sum(costs[:held]), sent)
        return BatchSubmission(cached, created, problem)

    def collect_batch(
        self, step: Step, batch_id: str, rows: Mapping[str, RowInput]
    ) -> BatchOutcome:
        """A batch's state; once ended, its results (also stored in the cache)."""
        key = check_key(self.settings, step.name, self.model)
        spec = answer_spec(step)
        client = make_client(self.settings, key)
        limit = max_output_tokens(spec, self.api_model)
        try:
            outcome = batch_mode.collect(client, batch_id, spec, self.price, len(rows), limit)
        except Exception as error:
            raise ProviderError(
                f"step '{step.name}': Gemini batch {batch_id} could not be read "
                f"({type(error).__name__}: {str(error)[:200]})."
            ) from error
        finally:
            client.close()
        keys = self._keys(spec, list(rows.values()))
        fresh = {
            keys[r.key]: _to_cache(r) for r in outcome.results if r.status == "ok" and r.key in keys
        }
        if fresh:
            self.cache.put_many(fresh)
        return outcome

    # -- helpers

    @property
    def cache(self) -> ResultCache:
        if self._cache is None:
            self._cache = ResultCache.for_settings(self.settings)
        return self._cache

    def _keys(self, spec: AnswerSpec, rows: Sequence[RowInput]) -> dict[str, str]:
        config = generation_config(spec, system_prompt(spec), self.api_model)
        prompt = prompt_fingerprint(self.api_model, config.pop("system_instruction"), config)
        return {r.key: cache_key("gemini", self.api_model, prompt, r.text) for r in rows}

    def _row_cost(self, spec: AnswerSpec, system: str, row: RowInput, batch: bool) -> float:
        tokens_in = estimate_tokens(system) + estimate_tokens(row.text) + 8
        usage = Usage(input_tokens=tokens_in, output_tokens=_EXPECTED_OUT + 12 * len(spec.fields))
        return cost_usd(self.price, usage, batch=batch) or 0.0

    def _estimate(self, step: Step, rows: Sequence[RowInput], batch: bool) -> Estimate:
        spec = answer_spec(step)
        system = system_prompt(spec)
        keys = self._keys(spec, rows)
        known = self.cache.get_many(set(keys.values()))
        todo = [r for r in rows if keys[r.key] not in known]
        tokens = sum(
            estimate_tokens(system) + estimate_tokens(r.text) + 8 + _EXPECTED_OUT for r in todo
        )
        return Estimate(tokens, sum(self._row_cost(spec, system, r, batch) for r in todo))


def _to_cache(result: RowResult) -> dict[str, Any]:
    return {"values": result.values, "reasoning": result.reasoning, "confidence": result.confidence}


def _cached(key: str, found: Mapping[str, Any], spec: AnswerSpec) -> RowResult:
    values = spec.from_cache(list(found.get("values") or []))
    reasoning, confidence = str(found.get("reasoning") or ""), found.get("confidence")
    return RowResult(key, values, reasoning, confidence, cached=True)
