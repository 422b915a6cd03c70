"""Gemini batch mode (``--batch``): the real ``google-genai`` SDK against FakeGemini's batches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from devservers.gemini import FakeGemini
from sheetai.providers.gemini import batch as batch_mode
from sheetai.providers.prices import PRICES, Usage, cost_usd
from sheetai.state import STATE_TAB, StateStore
from tests.batch_runs import kill_while_waiting
from tests.conftest import column, read_sheet
from tests.test_gemini_provider import (
    MODEL,
    _no_real_key,  # noqa: F401 - autouse here too
    book,
    run,
    settings_for,
)

PRICE = PRICES["gemini"][MODEL]
CREATE = "POST /v1beta/models/*:batchGenerateContent"


@pytest.fixture
def server():
    with FakeGemini() as srv:
        yield srv


def _state(path: Path) -> dict[str, Any]:
    return StateStore.from_grid(read_sheet(path, STATE_TAB)).extras


def test_batch_submit_then_collect_at_half_price_and_a_failed_line_runs_again(
    tmp_path, server
) -> None:
    server.batch_delay_s = 3600
    path = book(tmp_path, ["Positive a", "Negative b", "Neutral __BATCH_FAIL__"])
    settings = settings_for(server)
    first = run(path, settings, batch=True)
    step = first.steps[0]
    assert len(step.batch_ids) == 1 and step.batch_pending == 3
    assert server.generate_requests == 0
    assert [b["id"] for b in _state(path)["batches"]] == step.batch_ids
    sent = server.batches[step.batch_ids[0]].requests
    assert {line["metadata"]["key"] for line in sent} and len(sent) == 3

    second = run(path, settings, batch=True)  # still running: nothing is sent twice
    assert server.requests_by_path[CREATE] == 1 and second.steps[0].batch_pending == 0

    server.batch_delay_s = 0
    third = run(path, settings)
    rows = read_sheet(path)
    assert column(rows, "Sentiment")[:2] == ["Positive", "Negative"]
    # The failed line is flagged, then asked live in the same run, as the OpenAI path does.
    assert column(rows, "Sentiment")[2] == "Neutral" and server.generate_requests == 1
    lines = server.batches[step.batch_ids[0]].responses
    batch_cost = sum(
        cost_usd(
            PRICE,
            Usage(
                line["response"]["usageMetadata"]["promptTokenCount"],
                line["response"]["usageMetadata"]["candidatesTokenCount"],
            ),
            batch=True,
        )
        for line in lines
        if "response" in line
    )
    live = server.answer(MODEL, server.generate_bodies[0])["usageMetadata"]
    live_cost = cost_usd(PRICE, Usage(live["promptTokenCount"], live["candidatesTokenCount"]))
    assert third.steps[0].cost_usd == pytest.approx(batch_cost + live_cost)
    assert "batches" not in _state(path)


def test_an_expired_batch_sends_its_rows_again(tmp_path, server) -> None:
    server.expire_next_batch = True
    path = book(tmp_path, ["Positive a", "Negative b"])
    settings = settings_for(server, batch_poll_seconds=0.01)
    run(path, settings, batch=True, wait=True)
    assert server.requests_by_path[CREATE] == 1
    rows = read_sheet(path)
    assert column(rows, "Sentiment") == [None, None]
    run(path, settings, batch=True, wait=True)
    assert server.requests_by_path[CREATE] == 2
    assert column(read_sheet(path), "Sentiment") == ["Positive", "Negative"]
    assert server.generate_requests == 0


def test_requests_over_the_inline_limit_go_in_several_batches(
    tmp_path, server, monkeypatch
) -> None:
    monkeypatch.setattr(batch_mode, "MAX_INLINE_BYTES", 6_000)
    path = book(tmp_path, [f"Positive review number {i}" for i in range(6)])
    summary = run(path, settings_for(server, batch_poll_seconds=0.01), batch=True, wait=True)
    assert len(summary.steps[0].batch_ids) == server.requests_by_path[CREATE] > 1
    assert column(read_sheet(path), "Sentiment") == ["Positive"] * 6
    assert server.generate_requests == 0


@pytest.mark.timeout(300)
def test_a_batch_run_killed_while_waiting_resumes_without_sending_twice(tmp_path, server) -> None:
    """SIGKILL while ``--batch --wait`` polls: the batch id is already in the state tab, so the
    next run collects that batch and creates none."""
    server.batch_delay_s = 3600
    path = book(tmp_path, [f"Review {i}: Positive, parcel {i}" for i in range(6)])
    env = {
        **os.environ, "SHEETAI_GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": server.api_key,
        "SHEETAI_BATCH_POLL_SECONDS": "0.1",
    }  # fmt: skip
    kill_while_waiting(path, 6, env)

    server.batch_delay_s = 0
    resumed = run(path, settings_for(server))
    assert column(read_sheet(path), "Sentiment") == ["Positive"] * 6
    assert server.requests_by_path[CREATE] == 1 and server.generate_requests == 0
    assert resumed.steps[0].failed == 0 and "batches" not in _state(path)
