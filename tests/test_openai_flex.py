"""OpenAI Flex processing (``--flex``, ``SHEETAI_OPENAI_SERVICE_TIER=flex``): the real ``openai``
SDK against FakeOpenAI, whose ``edit_reply`` hook answers like Flex when it has no capacity."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from devservers.openai import FakeOpenAI, Reply
from devservers.openai.model import error
from sheetai.cli.app import app
from sheetai.errors import ProviderError
from sheetai.providers.openai.client import resolve_endpoint
from sheetai.providers.openai.connection import Connection
from sheetai.providers.prices import PRICES
from sheetai.settings import Settings
from tests.conftest import column, read_sheet
from tests.test_openai_provider import book, run

FLEX_MODEL = "gpt-5-mini"


def no_capacity_first(times: int, seen: list[dict[str, Any]]) -> Any:
    """An ``edit_reply`` that answers the first ``times`` flex requests with OpenAI's 429
    "resource unavailable" and keeps every completion it does send."""
    left = [times]

    def edit(body: dict, completion: dict) -> dict | Reply:
        if body.get("service_tier") == "flex" and left[0] > 0:
            left[0] -= 1
            return error(
                429,
                "Resource unavailable: Flex processing has no capacity now. Try again later.",
                "rate_limit_error",
                "resource_unavailable",
                headers={"retry-after-ms": "20"},
            )
        seen.append(completion)
        return completion

    return edit


def flex_settings(server: FakeOpenAI, **extra: Any) -> Settings:
    return Settings(
        openai_base_url=server.base_url,
        openai_api_key="sk-test",
        openai_service_tier="flex",
        **extra,
    )


def test_flex_requests_ask_for_flex_are_billed_at_the_flex_price_and_never_lost(
    tmp_path,
) -> None:
    seen: list[dict[str, Any]] = []
    # More "no capacity" answers than retries allowed: Flex waits do not count against them.
    with FakeOpenAI(edit_reply=no_capacity_first(8, seen)) as server:
        path = book(
            tmp_path, ["So Positive", "Negative, broken", "a Neutral fact"], Model=FLEX_MODEL
        )
        summary = run(path, flex_settings(server, openai_max_retries=2), concurrency=1)
        bodies = server.chat_bodies
    assert column(read_sheet(path), "Sentiment") == ["Positive", "Negative", "Neutral"]
    assert summary.total("failed") == 0 and summary.steps[0].rate_limited == 8
    assert len(bodies) == 11 and all(b["service_tier"] == "flex" for b in bodies)
    price = PRICES["openai"][FLEX_MODEL]
    full = (
        sum(
            c["usage"]["prompt_tokens"] * price.input
            + c["usage"]["completion_tokens"] * price.output
            for c in seen
        )
        / 1_000_000
    )
    assert summary.total("cost_usd") == pytest.approx(full / 2)  # Flex: half price
    assert summary.to_json()["cost_known"] is True


def test_flex_on_a_model_that_does_not_offer_it_is_refused_before_any_request(tmp_path) -> None:
    with FakeOpenAI() as server:
        path = book(tmp_path, ["x"], Model="gpt-4.1-mini")
        with pytest.raises(ProviderError) as refused:
            run(path, flex_settings(server))
        assert not server.chat_bodies
    message = str(refused.value)
    assert message.startswith("sheetai!H2: step 'sentiment' uses model 'gpt-4.1-mini'")
    assert "Flex" in message and "gpt-5-mini" in message and "SHEETAI_PRICES_FILE" in message


def test_without_flex_no_service_tier_is_sent(tmp_path) -> None:
    with FakeOpenAI() as server:
        path = book(tmp_path, ["So Positive"], Model=FLEX_MODEL)
        run(path, Settings(openai_base_url=server.base_url, openai_api_key="sk-test"))
        assert "service_tier" not in server.chat_bodies[0]


def test_flex_waits_up_to_fifteen_minutes_for_an_answer_unless_told_otherwise() -> None:
    def timeout(**settings: Any) -> float:
        endpoint = resolve_endpoint(FLEX_MODEL, Settings(openai_api_key="k", **settings))
        return Connection(endpoint, Settings(openai_api_key="k", **settings)).timeout

    assert timeout(openai_service_tier="flex") == 900.0
    assert timeout() == 60.0
    assert timeout(openai_service_tier="flex", openai_timeout_seconds=120.0) == 120.0


def test_the_run_command_takes_flex_but_not_with_batch(tmp_path) -> None:
    runner = CliRunner()
    assert "--flex" in runner.invoke(app, ["run", "--help"]).output
    path = book(tmp_path, ["x"], Model=FLEX_MODEL)
    both = runner.invoke(app, ["run", str(path), "--flex", "--batch"])
    assert both.exit_code == 2 and "pick one" in both.output
