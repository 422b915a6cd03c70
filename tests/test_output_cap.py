"""The output-token cap follows the run's answers; cut-off answers are asked again, not lost.

Issue 18: a classify request reserved 300 output tokens against ~60 used, and a run bound by
tokens per minute went at a fraction of its pace.
"""

from __future__ import annotations

import json
import math
import os
import random
from typing import Any

import pytest
from typer.testing import CliRunner

from devservers.openai import FakeOpenAI, default_answer
from sheetai.backends import open_backend
from sheetai.cli.app import app
from sheetai.config import parse_labels
from sheetai.engine.sync import SyncOptions, sync
from sheetai.providers.llm.output_cap import MIN_SAMPLES, OutputCap
from sheetai.providers.llm.schema import answer_spec
from sheetai.settings import Settings
from sheetai.steps import Step, Task
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

MODEL = "gpt-4o-mini"


def settings_for(server: FakeOpenAI, **extra: Any) -> Settings:
    return Settings(openai_base_url=server.base_url, openai_api_key="sk-test", **extra)


def book(tmp_path, rows: list[str]):
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(rows)]]
    return make_workbook(tmp_path / "b.xlsx", data, [sentiment_step(Model=MODEL)])


def run(path, settings: Settings, **options: Any):
    with open_backend(str(path), settings) as backend:
        return sync(backend, settings, SyncOptions(**options))


def long_reasoning(body: dict) -> dict | str:
    """Answers as the fake does, with a long reasoning for rows that say ``__RAMBLE__``."""
    answer = default_answer(body)
    last = body["messages"][-1]["content"]
    if "__RAMBLE__" in last and isinstance(answer, dict):
        answer["reasoning"] = "because " * 120  # ~240 tokens: over the tight cap
    return answer


def test_the_cap_shrinks_to_what_answers_use_and_never_below_the_schema(tmp_path) -> None:
    with FakeOpenAI() as srv:
        path = book(tmp_path, [f"Positive review number {i}" for i in range(60)])
        summary = run(path, settings_for(srv), concurrency=4)
        caps = [b["max_completion_tokens"] for b in srv.chat_bodies]
    step = summary.steps[0]
    assert step.failed == 0 and step.invalid == 0 and step.reasked == 0  # none cut off
    assert caps[0] < 300  # sized from the schema from the first request on
    assert caps[-1] < caps[0]  # then from the answers
    spec = answer_spec(
        Step(name="s", sheet="S", inputs=["A"], task=Task.CLASSIFY, instructions="",
             labels=parse_labels("A very long label name\nB"), labels_text="", output="O",
             model=MODEL)
    )  # fmt: skip
    cap = OutputCap(spec, 300)
    for _ in range(MIN_SAMPLES * 3):
        cap.observe(1)
    assert cap.current == cap.floor > 8  # the label and the JSON still fit


def test_where_tokens_are_limited_a_first_wave_sizes_the_cap_before_the_rest_go(tmp_path) -> None:
    with FakeOpenAI(tpm=10_000_000, latency_ms=30) as srv:
        path = book(tmp_path, [f"Positive review number {i}" for i in range(60)])
        summary = run(path, settings_for(srv), concurrency=32)
        caps = [b["max_completion_tokens"] for b in srv.chat_bodies]
    assert summary.steps[0].failed == 0 and len(caps) == 60
    # The schema-sized start went out on the first wave only (32 would without the wave).
    assert caps.count(caps[0]) <= MIN_SAMPLES and max(caps[MIN_SAMPLES:]) < caps[0]


def classify_cap() -> OutputCap:
    return OutputCap(answer_spec(sentiment_like()), 300)


def sentiment_like() -> Step:
    return Step(name="s", sheet="S", inputs=["A"], task=Task.CLASSIFY, instructions="",
                labels=parse_labels("Positive\nNeutral\nNegative"), labels_text="", output="O",
                model=MODEL)  # fmt: skip


def test_answers_that_barely_vary_soon_get_a_cap_a_few_tokens_over_the_longest() -> None:
    cap = classify_cap()
    start = cap.current
    for i in range(MIN_SAMPLES):
        cap.observe(31 + i % 2)
    first_wave = cap.current
    for i in range(500):
        cap.observe(31 + i % 2)
    assert start > first_wave > cap.current  # learnt from the first wave, then tighter
    assert 32 < cap.current <= 35


@pytest.mark.parametrize("sigma", [0.3, 0.6])
def test_answers_with_a_long_tail_are_rarely_cut_off(sigma: float) -> None:
    # Answers as long as real ones vary (log-normal), sent in waves of 64 before the answers
    # before them are back: the cap in force when each is sent decides whether it is cut off.
    rng = random.Random(7)
    cap, cut, waiting = classify_cap(), 0, []
    for _ in range(5000):
        used = min(300, round(40 * math.exp(rng.gauss(0, sigma))))
        sent = cap.current
        waiting.append((used, sent))
        if len(waiting) == 64:
            used, sent = waiting.pop(0)
            cut += used > sent
            cap.observe(sent if used > sent else used, cut_off=used > sent)
            if used > sent:
                cap.observe(used)  # asked again with room: its full length is learnt
    assert cut <= 5000 * 4 / 1000  # at most 4 in 1,000
    assert cap.cut_offs == cut


def test_a_cut_off_answer_widens_the_cap_at_once() -> None:
    cap = classify_cap()
    for i in range(200):
        cap.observe(31 + i % 2)
    tight = cap.current
    cap.observe(tight, cut_off=True)
    assert cap.retry(tight) == 300
    cap.observe(tight + 20)  # its length, asked again
    assert cap.current > tight + 20 and cap.cut_offs == 1


def test_an_answer_cut_off_by_the_tight_cap_is_asked_again_with_room(tmp_path) -> None:
    with FakeOpenAI(answer=long_reasoning) as srv:
        path = book(tmp_path, ["Positive one", "Negative __RAMBLE__ two", "Positive three"])
        summary = run(path, settings_for(srv), concurrency=1)
        caps = [b["max_completion_tokens"] for b in srv.chat_bodies]
    rows = read_sheet(path)
    assert column(rows, "Sentiment flag") == [None, None, None]
    assert column(rows, "Sentiment")[1] == "Negative"
    assert len(caps) == 4 and 300 in caps and min(caps) < 300
    assert summary.steps[0].reasked == 1 and summary.steps[0].failed == 0


def test_a_cap_the_user_sets_is_kept_and_a_cut_off_names_it(tmp_path) -> None:
    with FakeOpenAI(answer=long_reasoning) as srv:
        path = book(tmp_path, ["Positive one", "Negative __RAMBLE__ two"])
        run(path, settings_for(srv, openai_max_output_tokens=120), concurrency=1)
        caps = [b["max_completion_tokens"] for b in srv.chat_bodies]
    assert caps == [120, 120]  # not asked again: the user chose the cap
    flag = column(read_sheet(path), "Sentiment flag")[1]
    assert "cut off" in flag and "SHEETAI_OPENAI_MAX_OUTPUT_TOKENS" in flag


def test_rows_left_invalid_are_counted_and_fail_the_run(tmp_path) -> None:
    with FakeOpenAI() as srv:
        path = book(tmp_path, ["fine __FAULT_BADSCHEMA__", "Positive"])
        env = {
            "OPENAI_BASE_URL": srv.base_url,
            "OPENAI_API_KEY": "sk-test",
            "SHEETAI_HOME": str(tmp_path / "home"),
            "SHEETAI_MAX_REASKS": "1",
        }
        result = CliRunner().invoke(app, ["run", str(path), "--yes", "--json"], env=env)
        sent = len(srv.chat_bodies)
    summary = json.loads(result.stdout)
    assert summary["invalid"] == 1 and summary["failed"] == 0
    assert summary["steps"][0]["invalid"] == 1
    assert result.exit_code == 1  # some rows failed
    assert sent == 3  # 2 rows + 1 re-ask (SHEETAI_MAX_REASKS=1)
    assert os.environ.get("SHEETAI_MAX_REASKS") is None
