"""OpenAI, Azure OpenAI and OpenAI-compatible servers behind the :class:`Provider` interface.

Every answer is checked against a pydantic model built from the step; identical requests are
answered from the shared :class:`~sheetai.cache.ResultCache` (under ``SHEETAI_HOME``), so a
rerun, another workbook with the same rows or a recalculated ``=AICLASSIFY()`` never pays twice.
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
from ..llm.prompt import messages, prompt_fingerprint, system_prompt
from ..llm.schema import AnswerSpec, answer_spec
from ..prices import PRICES, Price, Usage, price_for, user_prices
from . import batch as batch_api
from .client import async_client, check_credentials, resolve_endpoint, sync_client
from .connection import Connection
from .pricing import estimate_tokens, usd
from .stats import RunStats

__all__ = ["OpenAIProvider", "BatchSubmission"]

# Expected answer length (tokens) for estimates.
_EXPECTED_OUT = {Task.CLASSIFY: 60, Task.SCORE: 60, Task.EXTRACT: 40, Task.GENERATE: 300}


class OpenAIProvider(BatchProvider):
    """One model on an OpenAI-compatible endpoint."""

    # Rows a person labelled reach it as few-shot examples in the step (engine/fewshot.py).
    learns_in_prompt = True

    def __init__(self, model: str, settings: Settings) -> None:
        self.model = model
        self.settings = settings
        self.endpoint = resolve_endpoint(model, settings)
        self.price: Price | None = price_for(
            "openai", self.endpoint.model, user_prices(settings, "openai")
        )
        if self.price is None and not self.endpoint.is_openai and not self.endpoint.azure:
            self.price = Price(0.0, 0.0)  # a self-hosted server costs nothing per token
        # Still runs without a price: the engine reports its cost as unknown, --max-cost refuses.
        self.price_known = self.price is not None
        self.connection = Connection(self.endpoint, settings)
        self.stats = RunStats()
        self.answers = AnswerStore(settings)

    # -- the interface

    def check(self, step: Step) -> None:
        check_credentials(self.endpoint, step.name)
        self.connection.check_reachable(step.name)
        if self.connection.flex and (self.price is None or self.price.flex is None):
            offered = ", ".join(n for n, p in PRICES["openai"].items() if p.flex is not None)
            model = self.endpoint.model
            raise ProviderError(
                f"step '{step.name}' uses model '{model}', which has no Flex processing price, "
                f"and Flex is on (--flex or SHEETAI_OPENAI_SERVICE_TIER=flex). Flex is offered "
                f"on {offered}. Pick one of those, run without Flex, or if OpenAI offers Flex for "
                f"'{model}', give its price in SHEETAI_PRICES_FILE, e.g. "
                f'{{"{model}": {{"input": 0.75, "output": 4.5, "flex": 0.5}}}}.'
            )
        answer_spec(step)

    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        spec = answer_spec(step)
        system = system_prompt(spec)
        known = self._cached(spec, system, rows)
        todo = [r for r in rows if r.key not in known]
        tokens = [self._expected_tokens(step, spec, system, r) for r in todo]
        tokens_in = sum(t[0] for t in tokens)
        tokens_out = sum(t[1] for t in tokens)
        used = Usage(tokens_in, tokens_out)
        return Estimate(tokens_in + tokens_out, usd(self.price, used, flex=self.connection.flex))

    def _expected_tokens(
        self, step: Step, spec: AnswerSpec, system: str, row: RowInput
    ) -> tuple[int, int]:
        """A row's expected (input, output) tokens: what ``--dry-run`` and the caps go by."""
        return estimate_tokens(system) + 8 + estimate_tokens(row.text), _expected_out(step, spec)

    def run(
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        self.check(step)
        # The SDK loads here, when a request is about to be sent: a run answered from the
        # cache, a --dry-run or an estimate never pays for its import (most of a second).
        from .runner import Job, Runner

        budget, rpm, tpm = options.budget, options.rpm, options.tpm
        spec = answer_spec(step)
        system = system_prompt(spec)
        split = self.answers.split(rows, self._keys(spec, system, rows), spec)
        yield from split.cached
        if not split.todo:
            return
        jobs = [
            Job([r.key for r in group], messages(system, group[0].text))
            for group in split.todo.values()
        ]
        cache_keys = {group[0].key: ck for ck, group in split.todo.items()}

        def keep(result: RowResult) -> None:
            # Every answer is in the cache before anyone sees it: a kill at any moment after
            # it arrived can never make the resume pay for it again.
            self.answers.keep(cache_keys[result.key], result)

        connection = self.connection
        workers, slow_limit = connection.workers(options.concurrency)
        runner = Runner(
            spec=spec,
            model=self.endpoint.model,
            make_client=lambda: async_client(
                self.endpoint, self.settings, workers, connection.timeout
            ),
            throttle_limits=(rpm or self.settings.openai_rpm, tpm or self.settings.openai_tpm),
            concurrency=workers,
            max_retries=self.settings.openai_max_retries,
            cap=connection.output_cap(spec),
            reasks=self.settings.max_reasks,
            price=self.price,
            expected_output_tokens=_expected_out(step, spec),
            logprobs=self.settings.openai_logprobs and not connection.reasoning,
            reasoning_effort=connection.reasoning_effort,
            service_tier=connection.service_tier,
            budget=budget,
            secret=self.endpoint.api_key,
            stats=self.stats,
            keep=keep,
            shared_pace=shared_pace(self.settings, self.endpoint.api_key, connection.base_url),
            base_url=connection.base_url,
            url_setting=connection.url_setting,
            mode=connection.start_mode,
            mode_forced=connection.mode_forced,
            on_mode=connection.remember_mode,
            local=connection.local,
            timeout_s=connection.timeout,
            timeout_setting=connection.timeout_setting,
            slow_limit=slow_limit,
        )
        yield from fan_out(runner.results(jobs), {job.keys[0]: job.keys for job in jobs})

    def take_stats(self) -> dict[str, Any]:
        stats, self.stats = self.stats, RunStats()
        return stats_summary(stats)

    def close(self) -> None:
        self.answers.close()
        self.connection.close()

    # -- the Batch API

    def submit_batch(
        self,
        step: Step,
        rows: Sequence[RowInput],
        *,
        budget: Budget | None = None,
        on_batch: OnBatch | None = None,
    ) -> BatchSubmission:
        """Answer cached rows now; upload the rest as batches (half price, within 24 h).

        With a ``budget``, rows go in, in order, while their estimates (:meth:`estimate`'s, at
        the Batch API's half price) fit under its cap; the rest are left for a later run and
        ``problem`` says so. ``on_batch`` hears of each batch the moment it is created, so a
        Ctrl-C or SIGTERM in the middle of the upload loses none (it propagates afterwards).
        """
        self.check(step)
        spec = answer_spec(step)
        system = system_prompt(spec)
        cached = self.answers.split(rows, self._keys(spec, system, rows), spec).cached
        answered = {r.key for r in cached}
        todo = [r for r in rows if r.key not in answered]
        if not todo:
            return BatchSubmission(cached, {})
        costs = [
            usd(self.price, Usage(*self._expected_tokens(step, spec, system, r)), batch=True)
            for r in todo
        ]
        held = budget.reserve_leading(costs) if budget is not None else len(todo)
        reserved = sum(costs[:held])
        capped = ""
        if budget is not None and held < len(todo):
            capped = (
                f"step '{step.name}': stopped submitting at the cost cap ${budget.cap_usd:.4f}: "
                f"{held} of {len(todo)} rows went into batches (estimated ${reserved:.4f} at the "
                f"Batch API's half price); the other {len(todo) - held} were not submitted and "
                "stay planned: run again with a higher --max-cost to submit them."
            )
        cost_of = {r.key: c for r, c in zip(todo, costs, strict=True)}
        todo = todo[:held]
        if not todo:
            return BatchSubmission(cached, {}, capped)
        response_format = spec.response_format()
        bodies = []
        for row in todo:
            body: dict[str, Any] = {
                "model": self.endpoint.model,
                "messages": messages(system, row.text),
                "response_format": response_format,
                "max_completion_tokens": self.connection.max_output_tokens(step.task),
            }
            if (
                step.task is Task.CLASSIFY
                and self.settings.openai_logprobs
                and not self.connection.reasoning
            ):
                body["logprobs"] = True
            if self.connection.reasoning_effort:
                body["reasoning_effort"] = self.connection.reasoning_effort
            bodies.append((row.key, body))
        created: dict[str, list[str]] = {}

        def note(batch_id: str, ids: list[str]) -> None:
            created[batch_id] = ids
            if on_batch is not None:
                on_batch(batch_id, ids)

        client = sync_client(self.endpoint, self.settings)
        try:
            url = "/chat/completions" if self.endpoint.azure else "/v1/chat/completions"
            batch_api.submit(client, bodies, step.name, url, note)
        except batch_api.PartialSubmitError as partial:
            import openai

            reason = type(partial.cause).__name__
            if not created and isinstance(
                partial.cause, (openai.NotFoundError, openai.PermissionDeniedError)
            ):
                raise ProviderError(
                    f"step '{step.name}': the server at {self.connection.base_url} has no "
                    f"Batch API (its Files/Batches endpoints answered "
                    f"{partial.cause.status_code}). Run "
                    "without --batch: the same rows then go one request each."
                ) from partial.cause
            # Some batches may exist (and will be billed): they are handed over and tracked.
            failed = partly_submitted(step.name, "the batch", created, reason, partial.cause)
            return BatchSubmission(cached, created, " ".join(filter(None, (failed, capped))))
        finally:
            client.close()
            if budget is not None:
                # What was submitted is committed (billed as its batch ends); the rest is free.
                budget.settle(reserved, sum(cost_of[k] for ids in created.values() for k in ids))
        return BatchSubmission(cached, created, capped)

    def collect_batch(
        self, step: Step, batch_id: str, rows: Mapping[str, RowInput]
    ) -> BatchOutcome:
        """A batch's state; once ended, its results (also stored in the cache)."""
        spec = answer_spec(step)
        system = system_prompt(spec)
        client = sync_client(self.endpoint, self.settings)
        try:
            outcome = batch_api.collect(client, batch_id, spec, self.price)
        except Exception as error:
            raise ProviderError(
                f"step '{step.name}': batch {batch_id} could not be read ({type(error).__name__})."
            ) from error
        finally:
            client.close()
        self.answers.keep_many(outcome.results, self._keys(spec, system, list(rows.values())))
        return outcome

    # -- helpers

    def _keys(self, spec: AnswerSpec, system: str, rows: Sequence[RowInput]) -> dict[str, str]:
        prompt = prompt_fingerprint(self.endpoint.model, system, spec.json_schema())
        return {r.key: cache_key("openai", self.endpoint.model, prompt, r.text) for r in rows}

    def _cached(self, spec: AnswerSpec, system: str, rows: Sequence[RowInput]) -> set[str]:
        """The keys of the rows the cache answers."""
        split = self.answers.split(rows, self._keys(spec, system, rows), spec)
        return {r.key for r in split.cached}


def _expected_out(step: Step, spec: AnswerSpec) -> int:
    return _EXPECTED_OUT[step.task] + (12 * len(spec.fields))
