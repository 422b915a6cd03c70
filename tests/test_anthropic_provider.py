"""Claude through the real ``anthropic`` SDK over HTTP against FakeClaude, on real workbooks.

Every fault the Messages API can answer with (429 with retry-after, 529, 500, an answer that
breaks the schema, a refusal, a cut-off answer), the cost of each row from the usage the server
returned, the shared cache, and routing by the Model column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from devservers.anthropic import FakeClaude
from sheetai.backends import open_backend
from sheetai.engine.sync import SyncOptions, sync
from sheetai.errors import ProviderError
from sheetai.providers.base import RowInput, RunOptions
from sheetai.providers.prices import PRICES
from sheetai.providers.registry import get_provider
from sheetai.settings import Settings
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

MODEL = "claude-haiku-4-5"
HAIKU = PRICES["anthropic"][MODEL]


@pytest.fixture(autouse=True)
def no_anthropic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with FakeClaude(api_key="sk-ant-test") as srv:
        yield srv


def settings_for(server: FakeClaude, **extra: Any) -> Settings:
    return Settings(anthropic_base_url=server.base_url, anthropic_api_key="sk-ant-test", **extra)


def book(tmp_path: Path, rows: list[str], **step: Any) -> Path:
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(rows)]]
    return make_workbook(tmp_path / "b.xlsx", data, [sentiment_step(**{"Model": MODEL, **step})])


def run(path: Path, settings: Settings, **options: Any):
    with open_backend(str(path), settings) as backend:
        return sync(backend, settings, SyncOptions(**options))


def row_cost(usage: dict, batch: bool = False) -> float:
    usd = (
        usage["input_tokens"] * HAIKU.input
        + usage["output_tokens"] * HAIKU.output
        + usage["cache_read_input_tokens"] * HAIKU.cached_input
        + usage["cache_creation_input_tokens"] * HAIKU.cache_write
    ) / 1_000_000
    return usd * (HAIKU.batch if batch else 1.0)


def test_classify_with_json_outputs_and_a_cached_system_block(tmp_path, server) -> None:
    path = book(tmp_path, ["I am so Positive about it", "Negative, broken", "a Neutral fact"])
    summary = run(path, settings_for(server, anthropic_concurrency=1))
    rows = read_sheet(path)
    assert column(rows, "Sentiment") == ["Positive", "Negative", "Neutral"]
    body = server.bodies[0]
    schema = body["output_config"]["format"]["schema"]
    assert schema["properties"]["label"]["enum"] == ["Positive", "Neutral", "Negative"]
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "Positive: happy" in body["system"][0]["text"]  # labels with their descriptions
    assert body["messages"][0]["content"].startswith("<row>\n")
    assert body["max_tokens"] <= 300  # tight: it counts against the output-token limit
    # The first request writes the cache, the others read it; each row costs what it used.
    usages = server.usages
    assert usages[0]["cache_creation_input_tokens"] > 0
    assert all(u["cache_read_input_tokens"] > 0 for u in usages[1:])
    assert summary.steps[0].cost_usd == pytest.approx(sum(row_cost(u) for u in usages))
    assert summary.steps[0].requests == 3 and summary.steps[0].response_format == "json_schema"


def test_extract_score_and_generate(tmp_path, server) -> None:
    labels = "amount: number\nwhen: date\nsize: one of S|M|L"
    path = book(
        tmp_path, ["Order of size M for 20 EUR"], Task="extract", Labels=labels, Examples=""
    )
    run(path, settings_for(server))
    amount, when, size = read_sheet(path)[1][2:5]
    assert isinstance(amount, (int, float)) and when == dt.datetime(2024, 1, 15) and size == "M"
    assert server.bodies[-1]["max_tokens"] == 160 + 3 * 60  # sized by field count
    path = book(tmp_path, ["good lead"], Task="score", Labels="1 to 5", Examples="")
    run(path, settings_for(server))
    assert column(read_sheet(path), "Sentiment")[0] in {1, 2, 3, 4, 5}
    path = book(tmp_path, ["hello"], Task="generate", Labels="", Examples="")
    run(path, settings_for(server))
    assert column(read_sheet(path), "Sentiment")[0].startswith("text based on")
    assert server.bodies[-1]["max_tokens"] == 1024


def test_a_legacy_model_answers_through_a_forced_tool(tmp_path, server) -> None:
    path = book(
        tmp_path, ["so Positive", "fine __FAULT_BADJSON__"], Model="claude-3-5-haiku-latest"
    )
    settings = settings_for(server, prices_file=_prices(tmp_path, "claude-3-5-haiku-latest"))
    summary = run(path, settings)
    assert column(read_sheet(path), "Sentiment")[0] == "Positive"
    assert column(read_sheet(path), "Sentiment flag")[1] is None  # re-asked, then fine
    body = server.bodies[0]
    assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    assert "output_config" not in body
    reask = [b for b in server.bodies if len(b["messages"]) == 3][0]
    result = reask["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert summary.steps[0].reasked == 1 and summary.steps[0].response_format == "tool"


def _prices(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(f'{{"{model}": [0.8, 4.0]}}')
    return path


def test_invalid_json_is_reasked_up_to_the_limit_then_flagged(tmp_path, server) -> None:
    # Issue 18: asked again up to SHEETAI_MAX_REASKS (2) times, where it was once.
    path = book(tmp_path, ["fine __FAULT_BADJSON__", "bad __FAULT_ALWAYSBAD__", "Positive"])
    summary = run(path, settings_for(server))
    rows = read_sheet(path)
    assert column(rows, "Sentiment")[1:] == [None, "Positive"]
    assert column(rows, "Sentiment flag") == [None, "INVALID_OUTPUT", None]
    assert len(server.bodies) == 6  # 3 rows + 1 re-ask + 2 re-asks
    reask = [b for b in server.bodies if len(b["messages"]) == 3][0]
    assert reask["messages"][-1]["content"].startswith("That answer was not valid")
    assert summary.steps[0].reasked == 3 and summary.steps[0].invalid == 1


def test_refusal_and_cut_off_are_flagged_with_the_reason_and_not_reasked(tmp_path, server) -> None:
    path = book(tmp_path, ["__FAULT_REFUSAL__ please", "long __FAULT_CUTOFF__", "Positive"])
    run(path, settings_for(server))
    flags = column(read_sheet(path), "Sentiment flag")
    assert (
        "refusal" in flags[0]
        and "cut off" in flags[1]
        and "SHEETAI_ANTHROPIC_MAX_TOKENS" in flags[1]
    )
    assert flags[2] is None
    assert len(server.bodies) == 3  # neither was asked again


def test_429_529_and_500_are_retried_and_a_dead_row_is_flagged(tmp_path, server) -> None:
    server.fail_next(1, 429, 0.2)
    server.fail_next(1, 529)
    server.fail_next(1, 500)
    path = book(tmp_path, ["Positive one", "Negative two", "keeps failing __FAULT_529__"])
    summary = run(path, settings_for(server, anthropic_max_retries=3, anthropic_concurrency=1))
    rows = read_sheet(path)
    assert column(rows, "Sentiment")[:2] == ["Positive", "Negative"]
    assert column(rows, "Sentiment flag")[2].startswith("ERROR: overloaded (529)")
    step = summary.steps[0]
    assert step.rate_limited == 1 and step.failed == 1 and step.retries == 3 + 3
    statuses = server.stats()["responses_by_status"]
    assert statuses["429"] == 1 and statuses["500"] == 1 and statuses["529"] == 1 + 4


def test_rerun_is_answered_from_the_cache_with_no_request(tmp_path, server) -> None:
    path = book(tmp_path, ["Positive a", "Negative b", "Positive a"])
    first = run(path, settings_for(server))
    assert len(server.bodies) == 2  # identical rows are asked once
    assert first.steps[0].cost_usd > 0
    server.reset_counters()
    (tmp_path / "b.xlsx").unlink()
    other = book(tmp_path, ["Positive a", "Negative b"])
    second = run(other, settings_for(server))
    assert server.bodies == [] and second.steps[0].requests == 0
    assert column(read_sheet(other), "Sentiment") == ["Positive", "Negative"]


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "anthropic/claude-haiku-4-5"])
def test_routing_by_model_name_reaches_the_anthropic_server(
    tmp_path, server, monkeypatch, model
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    path = book(tmp_path, ["so Positive"], Model=model)
    run(path, Settings())
    assert column(read_sheet(path), "Sentiment") == ["Positive"]
    assert server.bodies[0]["model"] == "claude-haiku-4-5"


def test_a_missing_key_names_the_step_and_the_variable(tmp_path) -> None:
    path = book(tmp_path, ["x"])
    with pytest.raises(ProviderError) as error:
        run(path, Settings())
    assert "sentiment" in str(error.value) and "ANTHROPIC_API_KEY" in str(error.value)


def test_a_bad_key_stops_the_step(tmp_path, server) -> None:
    path = book(tmp_path, ["x", "y"])
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        run(path, Settings(anthropic_base_url=server.base_url, anthropic_api_key="sk-ant-wrong"))


def test_a_model_without_a_price_runs_with_an_unknown_cost(server) -> None:
    provider = get_provider("claude-unpriced-9", settings_for(server))
    assert provider.price_known is False
    step = _step()
    results = list(provider.run(step, [RowInput("k1", "Positive!")], [], RunOptions()))
    assert results[0].status == "ok" and results[0].cost_usd == 0.0


def test_budget_holds_every_request(server) -> None:
    from sheetai.providers.base import Budget

    provider = get_provider(MODEL, settings_for(server, anthropic_concurrency=1))
    budget = Budget(0.002)
    rows = [RowInput(f"k{i}", f"Positive {i}") for i in range(20)]
    results = list(provider.run(_step(), rows, [], RunOptions(budget=budget)))
    assert 0 < len(results) < 20 and budget.exhausted
    assert budget.spent_usd <= 0.002
    assert provider.take_stats()["requests"] == len(results)


def _step():
    from sheetai.config import parse_labels
    from sheetai.steps import Step, Task

    labels = "Positive: happy\nNegative: complains"
    return Step(
        name="s", sheet="S", inputs=["Review"], task=Task.CLASSIFY, instructions="",
        labels=parse_labels(labels), labels_text=labels, output="O", model=MODEL,
    )  # fmt: skip


def test_an_unreachable_server_stops_the_step_naming_the_setting(tmp_path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    path = book(tmp_path, ["x"])
    settings = Settings(anthropic_base_url=f"http://127.0.0.1:{port}", anthropic_api_key="k")
    with pytest.raises(ProviderError, match="ANTHROPIC_BASE_URL"):
        run(path, settings)


def test_cli_run_with_limits_by_hand(tmp_path, server, monkeypatch) -> None:
    import json

    from typer.testing import CliRunner

    from sheetai.cli.app import app

    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    path = book(tmp_path, ["so Positive", "very Negative"])
    argv = ["run", str(path), "--json", "--yes", "--rpm", "600", "--tpm", "100000"]
    result = CliRunner().invoke(app, [*argv, "--output-tpm", "20000", "--concurrency", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["requests"] == 2 and data["cost_usd"] > 0
    assert column(read_sheet(path), "Sentiment") == ["Positive", "Negative"]
