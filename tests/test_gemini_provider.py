"""The Gemini provider: the real ``google-genai`` SDK over HTTP against FakeGemini."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devservers.gemini import FakeGemini
from sheetai.backends import open_backend
from sheetai.engine.sync import SyncOptions, sync
from sheetai.errors import ProviderError
from sheetai.providers.prices import PRICES, Usage, cost_usd
from sheetai.settings import Settings
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

MODEL = "gemini-2.5-flash"
PRICE = PRICES["gemini"][MODEL]


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SHEETAI_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with FakeGemini() as srv:
        yield srv


def settings_for(server: FakeGemini, **extra: Any) -> Settings:
    return Settings(gemini_base_url=server.base_url, gemini_api_key=server.api_key, **extra)


def book(tmp_path: Path, rows: list[str], **step: Any) -> Path:
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(rows)]]
    return make_workbook(tmp_path / "b.xlsx", data, [sentiment_step(**{"Model": MODEL, **step})])


def run(path: Path, settings: Settings, **options: Any):
    with open_backend(str(path), settings) as backend:
        return sync(backend, settings, SyncOptions(**options))


def test_classify_writes_labels_and_costs_the_usage_at_the_price(tmp_path, server) -> None:
    path = book(tmp_path, ["Positive, thanks", "Negative, broken", "Neutral question"])
    summary = run(path, settings_for(server))
    rows = read_sheet(path)
    assert column(rows, "Sentiment") == ["Positive", "Negative", "Neutral"]
    assert server.generate_requests == 3
    body = server.generate_bodies[0]
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["label"]["enum"] == [
        "Positive", "Neutral", "Negative"
    ]  # fmt: skip
    assert config["maxOutputTokens"] == 300 and list(config["thinkingConfig"].values()) == [0]
    assert "<row>" in body["contents"][0]["parts"][0]["text"]
    assert "Labels" in body["systemInstruction"]["parts"][0]["text"]
    expected = 0.0
    for sent in server.generate_bodies:
        answer = server.answer(MODEL, sent)["usageMetadata"]
        usage = Usage(answer["promptTokenCount"], answer["candidatesTokenCount"])
        expected += cost_usd(PRICE, usage)
    assert summary.steps[0].cost_usd == pytest.approx(expected)


def test_a_rerun_is_answered_from_the_cache_with_no_request(tmp_path, server) -> None:
    path = book(tmp_path, ["Positive a", "Negative b", "Positive a"])
    run(path, settings_for(server))
    assert server.generate_requests == 2  # identical rows are asked once
    (tmp_path / "x").mkdir()
    other = book(tmp_path / "x", ["Positive a"])
    server.generate_bodies.clear()
    summary = run(other, settings_for(server))
    assert server.generate_requests == 0 and summary.steps[0].cost_usd == 0
    assert column(read_sheet(other), "Sentiment") == ["Positive"]


def test_429_waits_the_retry_delay_and_5xx_are_retried(tmp_path, server) -> None:
    server.fail_next("429", "500", "503")
    path = book(tmp_path, ["Positive a"])
    summary = run(path, settings_for(server))
    assert column(read_sheet(path), "Sentiment") == ["Positive"]
    assert server.generate_requests == 4
    assert summary.steps[0].failed == 0


def test_an_invalid_answer_is_reasked_up_to_the_limit_then_flagged(tmp_path, server) -> None:
    # Issue 18: asked again up to SHEETAI_MAX_REASKS (2) times, where it was once.
    server.fail_next("invalid")
    path = book(tmp_path, ["Positive a", "Negative __INVALID__"])
    summary = run(path, settings_for(server), concurrency=1)
    rows = read_sheet(path)
    assert column(rows, "Sentiment") == ["Positive", None]
    assert column(rows, "Sentiment flag")[1] is not None
    # The first answer of row 1 was invalid and re-asked; row 2 is invalid three times.
    assert server.generate_requests == 5 and summary.steps[0].invalid == 1
    reask = [b for b in server.generate_bodies if len(b["contents"]) == 3]
    assert len(reask) == 2 and reask[0]["contents"][1]["role"] == "model"


@pytest.mark.parametrize(
    ("marker", "said"),
    [
        ("__SAFETY__", "SAFETY"),
        ("__BLOCKED__", "blocked the prompt"),
        ("__MAX_TOKENS__", "cut off"),
    ],
)
def test_blocked_and_cut_off_answers_are_flagged_not_reasked(
    tmp_path, server, marker: str, said: str
) -> None:
    path = book(tmp_path, [f"Negative {marker}"])
    run(path, settings_for(server))
    rows = read_sheet(path)
    assert column(rows, "Sentiment") == [None]
    assert said in str(column(rows, "Sentiment reasoning")[0]) + str(
        column(rows, "Sentiment flag")[0]
    )
    assert server.generate_requests == 1


def test_cost_counts_cached_input_at_the_cached_price_and_thinking_as_output(
    tmp_path, server
) -> None:
    server.cached_tokens, server.thoughts_tokens = 40, 25
    path = book(tmp_path, ["Positive a"])
    summary = run(path, settings_for(server))
    answer = server.answer(MODEL, server.generate_bodies[0])["usageMetadata"]
    prompt, out = answer["promptTokenCount"], answer["candidatesTokenCount"] + 25
    usage = Usage(prompt - 40, out, cached_tokens=40)
    assert summary.steps[0].cost_usd == pytest.approx(cost_usd(PRICE, usage))


def test_a_missing_key_names_the_variable_and_the_step(tmp_path, server) -> None:
    path = book(tmp_path, ["Positive a"])
    with pytest.raises(ProviderError, match="GEMINI_API_KEY.*GOOGLE_API_KEY"):
        run(path, Settings(gemini_base_url=server.base_url))
    assert server.generate_requests == 0


def test_a_bad_key_stops_the_step_without_echoing_it(tmp_path, server) -> None:
    path = book(tmp_path, ["Positive a", "Negative b"])
    with pytest.raises(ProviderError) as caught:
        run(path, Settings(gemini_base_url=server.base_url, gemini_api_key="wrong-secret-42"))
    assert "wrong-secret-42" not in str(caught.value)


@pytest.mark.parametrize("name", ["gemini-2.5-flash-lite", "gemini/my-tuned-gemini"])
def test_gemini_names_and_the_gemini_prefix_go_to_the_gemini_server(
    tmp_path, server, name: str
) -> None:
    path = book(tmp_path, ["Positive a"], Model=name)
    summary = run(path, settings_for(server))
    assert server.generate_requests == 1
    assert column(read_sheet(path), "Sentiment") == ["Positive"]
    # A model without a price runs; its cost is unknown, not a number of dollars.
    if name.startswith("gemini/"):
        assert summary.steps[0].cost_usd == 0


def test_env_variables_point_the_sdk_at_the_server(tmp_path, server, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", server.api_key)
    monkeypatch.setenv("SHEETAI_GEMINI_BASE_URL", server.base_url)
    path = book(tmp_path, ["Positive a"])
    run(path, Settings())
    assert server.requests_by_path["POST /v1beta/models/*:generateContent"] == 1
