"""``sheetai compare``: another model or prompt on the reviewed rows, paired with the sheet's
answers, through the real CLI on real .xlsx files and the real ``openai`` SDK against FakeOpenAI.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from devservers.openai import FakeOpenAI
from sheetai.cli.app import app
from sheetai.engine.learning import REVIEW_HEADERS, REVIEW_TAB
from tests.conftest import make_workbook, sentiment_step

runner = CliRunner()

# (text, true label, the label on the sheet). FakeOpenAI answers the label the text names, so
# the alternative is right exactly where the text names the true label.
REVIEWED = [
    # only the alternative right (6)
    ("Positive: the crew was lovely", "Positive", "Negative"),
    ("so Positive about the new seats", "Positive", "Neutral"),
    ("a Neutral note: gate B4", "Neutral", "Negative"),
    ("Neutral question about bags", "Neutral", "Positive"),
    ("Negative: lost my luggage", "Negative", "Positive"),
    ("very Negative, two hours late", "Negative", "Neutral"),
    # only the current answers right (1)
    ("Negative? no, they were great", "Positive", "Positive"),
    # both right (4)
    ("Positive trip, thanks", "Positive", "Positive"),
    ("Neutral: boarding at 9", "Neutral", "Neutral"),
    ("Negative, rude staff", "Negative", "Negative"),
    ("Negative and slow refund", "Negative", "Negative"),
    # both wrong (1)
    ("Positive? the worst flight ever", "Negative", "Neutral"),
]
UNREVIEWED = [f"flight {i} was fine" for i in range(8)]


def make_book(tmp_path: Path, model: str, reviewed: int = len(REVIEWED)) -> Path:
    data = [["ID", "Review", "Sentiment"]]
    data += [[i + 1, text, answer] for i, (text, _, answer) in enumerate(REVIEWED)]
    data += [[len(data) + i, text, "Neutral"] for i, text in enumerate(UNREVIEWED)]
    path = make_workbook(tmp_path / "book.xlsx", data, [sentiment_step(Model=model)])
    book = openpyxl.load_workbook(path)
    tab = book.create_sheet(REVIEW_TAB)
    tab.append(REVIEW_HEADERS)
    for i, (text, truth, answer) in enumerate(REVIEWED[:reviewed]):
        tab.append(["sentiment", i + 2, text, answer, 0.5, truth, "rest"])
    book.save(path)
    return path


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    with FakeOpenAI() as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
        yield srv


def test_an_llm_against_the_embedded_answers_on_the_reviewed_rows(tmp_path, server) -> None:
    path = make_book(tmp_path, "local")
    before = path.read_bytes()
    result = runner.invoke(
        app, ["compare", str(path), "--step", "sentiment", "--model", "gpt-4o-mini", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["reviewed"] == 12 and out["sheet_rows"] == 20
    assert out["current"]["model"] == "local" and out["alternative"]["model"] == "gpt-4o-mini"
    assert out["current"]["accuracy"] == round(5 / 12, 4)
    assert out["alternative"]["accuracy"] == round(10 / 12, 4)
    assert (out["only_current_right"], out["only_alternative_right"]) == (1, 6)
    assert (out["both_right"], out["both_wrong"]) == (4, 1)
    # By hand: 7 discordant rows split 1/6; P(X <= 1 | Binomial(7, 1/2)) = (1 + 7) / 128.
    assert out["p_value"] == pytest.approx(2 * (1 + 7) / 128)
    assert out["current"]["cost_per_row_usd"] == 0.0  # the embedded model is free
    alt = out["alternative"]
    assert alt["cost_source"] == "spent" and alt["cost_per_row_usd"] > 0
    assert alt["projected_cost_usd"] == pytest.approx(alt["cost_per_row_usd"] * 20, rel=1e-3)
    assert server.requests_by_path.get("/v1/chat/completions") == 12  # reviewed rows only
    assert "no significant difference" in result.stderr
    assert path.read_bytes() == before  # nothing written to the workbook

    text = runner.invoke(app, ["compare", str(path), "--model", "gpt-4o-mini"])
    assert text.exit_code == 0, text.output
    assert "only the current right 1, only the alternative right 6" in text.stdout
    assert "p = 0.125" in text.stdout
    assert path.read_bytes() == before


def test_the_embedded_model_as_alternative_answers_cross_fitted(tmp_path, server) -> None:
    path = make_book(tmp_path, "gpt-4o-mini")
    before = path.read_bytes()
    result = runner.invoke(app, ["compare", str(path), "--model", "local", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "cross-fitted" in out["alternative"]["answers"]
    assert out["current"]["accuracy"] == round(5 / 12, 4)
    counts = [out[k] for k in ("both_right", "only_current_right")]
    assert out["current"]["correct"] == sum(counts) == 5
    alt_right = out["both_right"] + out["only_alternative_right"]
    assert out["alternative"]["correct"] == alt_right
    assert out["alternative"]["cost_per_row_usd"] == 0.0
    assert server.requests_by_path.get("/v1/chat/completions") is None
    assert path.read_bytes() == before


def test_clear_errors_before_anything_runs(tmp_path, server, monkeypatch) -> None:
    path = make_book(tmp_path, "local")
    wrong = runner.invoke(app, ["compare", str(path), "--step", "sentimnt", "--model", "local"])
    assert wrong.exit_code == 2
    assert "no step named 'sentimnt' (did you mean 'sentiment'?)" in wrong.stderr

    nothing = runner.invoke(app, ["compare", str(path)])
    assert nothing.exit_code == 2 and "--model, --instructions" in nothing.stderr

    (tmp_path / "few").mkdir()
    few = make_book(tmp_path / "few", "local", reviewed=3)
    short = runner.invoke(app, ["compare", str(few), "--model", "gpt-4o-mini"])
    assert short.exit_code == 2
    assert "3 reviewed rows" in short.stderr and "sheetai review" in short.stderr

    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    keyless = runner.invoke(app, ["compare", str(path), "--model", "gpt-4o-mini"])
    assert keyless.exit_code == 2 and "OPENAI_API_KEY" in keyless.stderr
    assert server.requests_by_path.get("/v1/chat/completions") is None


def test_a_new_prompt_on_the_same_model(tmp_path, server) -> None:
    path = make_book(tmp_path, "gpt-4o-mini")
    new = "Sarcasm is Negative."
    result = runner.invoke(app, ["compare", str(path), "--instructions", new, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["alternative"]["model"] == out["current"]["model"] == "gpt-4o-mini"
    assert out["alternative"]["instructions"] == new != out["current"]["instructions"]
    assert out["alternative"]["accuracy"] == round(10 / 12, 4)
    assert "the new prompt" in out["verdict"]
