"""Which vendor a Model cell means, and a missing key named at the cell that chose the model."""

from __future__ import annotations

import pytest

from sheetai.errors import ProviderError
from sheetai.providers.routing import Route, route
from sheetai.settings import Settings
from tests.conftest import make_workbook, sentiment_step
from tests.test_openai_provider import book, run


@pytest.mark.parametrize(
    ("cell", "vendor", "model"),
    [
        ("claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
        ("Claude-Sonnet-4-6", "anthropic", "Claude-Sonnet-4-6"),
        ("gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
        ("gpt-4.1-mini", "openai", "gpt-4.1-mini"),
        ("o1", "openai", "o1"),
        ("o3-mini", "openai", "o3-mini"),
        ("o4-mini", "openai", "o4-mini"),
        ("anthropic/claude-proxy-name", "anthropic", "claude-proxy-name"),
        ("gemini/tuned-model", "gemini", "tuned-model"),
        ("openai/llama-3", "openai", "llama-3"),
        (" gpt-5-mini ", "openai", "gpt-5-mini"),
        ("llama3", "compatible", "llama3"),
        ("qwen2.5:7b", "compatible", "qwen2.5:7b"),
        ("azure:my-deployment", "compatible", "azure:my-deployment"),
        ("o1x", "compatible", "o1x"),
    ],
)
def test_a_model_name_goes_to_its_vendor(cell: str, vendor: str, model: str) -> None:
    assert route(cell) == Route(vendor, model)  # type: ignore[arg-type]


def test_a_missing_key_names_the_model_cell_and_the_variable_before_anything_runs(
    tmp_path,
) -> None:
    second = sentiment_step(Step="again", Output="Again", Model="gpt-4.1-mini")
    data = [["ID", "Review"], [1, "fine"]]
    path = make_workbook(tmp_path / "two.xlsx", data, [sentiment_step(), second])
    with pytest.raises(ProviderError) as refused:
        run(path, Settings())
    message = str(refused.value)
    assert message.startswith("sheetai!H3: step 'again' uses model 'gpt-4.1-mini'")
    assert "set OPENAI_API_KEY" in message


def test_a_model_given_with_the_model_flag_is_named_as_the_flag(tmp_path) -> None:
    path = book(tmp_path, ["x"], Model="local")
    with pytest.raises(ProviderError) as refused:
        run(path, Settings(), model="gpt-4.1-mini")
    assert str(refused.value).startswith("--model: step 'sentiment' uses model 'gpt-4.1-mini'")
