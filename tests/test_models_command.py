"""``sheetai models``: vendors, whether keys are set (never their values), base URLs, prices."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sheetai.cli.app import app
from sheetai.providers.prices import CHECKED

SECRET = "sk-ant-api03-very-secret-value"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"claude-haiku-4-5": [2, 10], "my-llama": {"input": 0, "output": 0}}),
        encoding="utf-8",
    )
    monkeypatch.setenv("SHEETAI_PRICES_FILE", str(prices))
    return prices


def test_models_lists_each_vendor_with_its_key_state_url_and_marked_prices(env) -> None:
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    vendors = {v["vendor"]: v for v in data["vendors"]}
    assert set(vendors) == {"openai", "compatible", "azure", "anthropic", "gemini", "local"}
    claude = vendors["anthropic"]
    assert claude["key_set"] is True and claude["configured"] is True
    assert claude["base_url"] == "https://api.anthropic.com"
    assert claude["checked"] == CHECKED["anthropic"]
    haiku = next(m for m in claude["models"] if m["model"] == "claude-haiku-4-5")
    assert (haiku["input"], haiku["output"], haiku["source"]) == (2.0, 10.0, "SHEETAI_PRICES_FILE")
    sonnet = next(m for m in claude["models"] if m["model"] == "claude-sonnet-4-5")
    assert sonnet["source"] == "built-in" and sonnet["cache_write"] == 3.75
    assert vendors["gemini"]["key_set"] is False and vendors["gemini"]["configured"] is False
    assert vendors["compatible"]["base_url"] == "http://127.0.0.1:8080/v1"
    assert [m["model"] for m in vendors["compatible"]["models"]] == ["my-llama"]
    assert data["prices_file"] == str(env)
    assert SECRET not in result.output and "very-secret" not in result.output


def test_the_table_says_whether_a_key_is_set_but_never_shows_it(env) -> None:
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "ANTHROPIC_API_KEY: set" in text and "GEMINI_API_KEY or GOOGLE_API_KEY: not set" in text
    assert "claude-opus-4-5" in text and "gemini-2.5-flash-lite" in text
    assert "yours (SHEETAI_PRICES_FILE)" in text and f"checked {CHECKED['gemini']}" in text
    assert SECRET not in text and SECRET[:12] not in text


def test_a_bad_prices_file_is_named(env) -> None:
    env.write_text('{"my-model": [1]}', encoding="utf-8")
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 2
    assert str(env) in " ".join(result.output.split()) and "my-model" in result.output
