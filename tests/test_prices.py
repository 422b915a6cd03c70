"""Prices: the built-in tables, the user's prices file, and what a row costs; a model with no
price has an unknown cost (never $0) and a cost cap refuses it before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devservers.openai import FakeOpenAI
from sheetai.cli.app import app
from sheetai.errors import ProviderError
from sheetai.providers.prices import CHECKED, PRICES, Price, load_file, price_for
from sheetai.settings import Settings
from tests.test_openai_provider import AZURE_KEY, book, run

MODEL = "gpt-4o-mini"


def prices_file(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_every_vendor_table_is_dated_and_holds_the_models_the_issue_names() -> None:
    assert set(CHECKED) == set(PRICES) == {"openai", "anthropic", "gemini"}
    for name in ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5", "claude-opus-4-7"):
        assert name in PRICES["anthropic"]
        price = PRICES["anthropic"][name]
        assert price.cached_input is not None and price.cache_write is not None
    for name in ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro"):
        assert name in PRICES["gemini"]
    assert price_for("gemini", "gemini-3-flash-preview") == PRICES["gemini"]["gemini-3-flash"]
    assert price_for("anthropic", "claude-haiku-4-5-20251001").input == 1.0
    assert all(p.batch == 0.5 for table in PRICES.values() for p in table.values())


def test_a_prices_file_adds_and_overrides_prices_for_any_vendor(tmp_path) -> None:
    path = prices_file(
        tmp_path,
        {
            "claude-haiku-4-5": {"input": 2, "output": 10, "cached_input": 0.2},
            "my-llama": [0.1, 0.2],
        },
    )
    extra = load_file(path)
    assert price_for("anthropic", "claude-haiku-4-5", extra) == Price(2, 10, cached_input=0.2)
    assert price_for("openai", "my-llama", extra) == Price(0.1, 0.2)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "write a JSON object"),
        ('{"my-model": [1]}', "model 'my-model' has no input and output price"),
        ('{"my-model": {"input": 1, "output": 2, "cache": 3}}', "model 'my-model': unknown key"),
        ('{"my-model": ["cheap", 1]}', "model 'my-model'"),
    ],
)
def test_a_bad_prices_file_is_refused_naming_the_file_and_the_model(
    tmp_path, content: str, said: str
) -> None:
    path = prices_file(tmp_path, content)
    with pytest.raises(ProviderError) as refused:
        load_file(path)
    assert str(path) in str(refused.value) and said in str(refused.value)


def test_a_run_bills_at_the_prices_file_and_reads_from_openais_cache_at_the_cached_price(
    tmp_path,
) -> None:
    def half_cached(body: dict, completion: dict) -> dict:
        usage = completion["usage"]
        usage["prompt_tokens_details"] = {"cached_tokens": usage["prompt_tokens"] // 2}
        seen.append(usage)
        return completion

    seen: list[dict[str, Any]] = []
    path_prices = prices_file(tmp_path, {MODEL: {"input": 10, "output": 20, "cached_input": 1}})
    with FakeOpenAI(edit_reply=half_cached) as server:
        settings = Settings(
            openai_base_url=server.base_url, openai_api_key="sk-test", prices_file=path_prices
        )
        summary = run(book(tmp_path, ["So Positive", "Negative, broken"]), settings)
    expected = sum(
        (u["prompt_tokens"] - u["prompt_tokens_details"]["cached_tokens"]) * 10
        + u["prompt_tokens_details"]["cached_tokens"] * 1
        + u["completion_tokens"] * 20
        for u in seen
    )
    assert summary.total("cost_usd") == pytest.approx(expected / 1_000_000)


def test_sheetai_openai_prices_still_prices_a_model(tmp_path) -> None:
    with FakeOpenAI() as server:
        settings = Settings(
            openai_base_url=server.base_url,
            openai_api_key="sk-test",
            openai_prices={"my-model": [1000.0, 1000.0]},
        )
        summary = run(book(tmp_path, ["So Positive"], Model="my-model"), settings)
    assert summary.total("cost_usd") > 0.01 and summary.to_json()["cost_known"] is True


def test_a_self_hosted_model_without_a_price_costs_nothing_as_before(tmp_path) -> None:
    with FakeOpenAI() as server:
        settings = Settings(openai_base_url=server.base_url)
        summary = run(book(tmp_path, ["So Positive"], Model="llama3"), settings, max_cost_usd=1.0)
    data = summary.to_json()
    assert data["cost_usd"] == 0 and data["cost_known"] is True and data["processed"] == 1


def azure_env(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.root_url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)


def test_the_plan_and_the_report_say_unknown_for_a_model_without_a_price(
    tmp_path, monkeypatch
) -> None:
    runner = CliRunner()
    with FakeOpenAI(api_key=AZURE_KEY) as server:
        azure_env(server, monkeypatch)
        path = book(tmp_path, ["So Positive"], Model="azure:no-price")
        plan = runner.invoke(app, ["run", str(path), "--dry-run"])
        capped = runner.invoke(app, ["run", str(path), "--dry-run", "--max-cost", "1"])
        done = runner.invoke(app, ["run", str(path), "--yes", "--json"])
        assert len(server.chat_bodies) == 1
    assert plan.exit_code == 0 and "unknown" in plan.output and "$0.0000" not in plan.output
    assert "warning:" in capped.output and "SHEETAI_PRICES_FILE" in capped.output
    data = json.loads(done.stdout)
    assert data["cost_known"] is False and data["steps"][0]["cost_known"] is False
    assert data["unpriced_models"] == ["azure:no-price"]


def test_max_cost_refuses_a_model_without_a_price_before_anything_is_sent(
    tmp_path, monkeypatch
) -> None:
    with FakeOpenAI(api_key=AZURE_KEY) as server:
        azure_env(server, monkeypatch)
        monkeypatch.setenv("SHEETAI_MAX_COST_USD", "2")
        path = book(tmp_path, ["So Positive"], Model="azure:no-price")
        result = CliRunner().invoke(app, ["run", str(path), "--yes"])
        assert not server.chat_bodies
    assert result.exit_code == 2
    assert "sheetai!H2: step 'sentiment' uses model 'azure:no-price', which has no price, " in (
        " ".join(result.output.split())
    )
    assert "SHEETAI_MAX_COST_USD" in result.output and '{"no-price": [0.5, 1.5]}' in result.output
