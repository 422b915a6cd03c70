"""``--batch`` with Claude: Message Batches through the real ``anthropic`` SDK against FakeClaude.

Rows wait for their batch, a later run writes the answers at the batch price, errored, expired
and canceled lines run again, and a run killed while waiting resumes without sending anything
twice.
"""

from __future__ import annotations

import os

import anthropic
import pytest

from devservers.anthropic import FakeClaude
from sheetai.providers.anthropic import batch as batch_api
from sheetai.providers.base import Budget, RowInput
from sheetai.providers.registry import get_provider
from tests.batch_runs import kill_while_waiting
from tests.conftest import column, read_sheet
from tests.test_anthropic_provider import _step, book, row_cost, run, settings_for

CREATE = "/v1/messages/batches"


@pytest.fixture(autouse=True)
def no_anthropic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with FakeClaude(api_key="sk-ant-test") as srv:
        yield srv


def test_batch_rows_wait_then_the_next_run_writes_them_at_half_price(tmp_path, server) -> None:
    server.batch_delay_s = 3600
    settings = settings_for(server)
    texts = ["Positive a", "Negative b", "Positive a", "bad __FAULT_500__", "old __FAULT_EXPIRE__"]
    path = book(tmp_path, texts)
    first = run(path, settings, batch=True)
    assert column(read_sheet(path), "Sentiment flag") == ["BATCH_PENDING"] * 5
    assert len(first.steps[0].batch_ids) == 1 and not server.bodies
    second = run(path, settings)  # still running: nothing is sent again
    assert second.steps[0].requests == 0 and not server.bodies
    server.batch_delay_s = 0
    third = run(path, settings, batch=True)
    rows = read_sheet(path)
    assert column(rows, "Sentiment")[:3] == ["Positive", "Negative", "Positive"]
    # The errored and the expired line are failed rows: this --batch run sends them again.
    assert column(rows, "Sentiment flag") == [None, None, None, "BATCH_PENDING", "BATCH_PENDING"]
    assert third.steps[0].failed == 2 and not server.bodies
    assert server.stats()["requests_by_path"][CREATE] == 2
    # Cost: each answered line's usage at the batch price (half), cache reads at theirs.
    assert len(server.usages) == 2  # "Positive a" was sent once for two rows
    assert third.steps[0].cost_usd == pytest.approx(
        sum(row_cost(u, batch=True) for u in server.usages)
    )


def test_canceled_lines_come_back_as_failed_rows(server) -> None:
    server.batch_delay_s = 3600
    provider = get_provider("claude-haiku-4-5", settings_for(server))
    step = _step()
    rows = [RowInput("k1", "Positive one"), RowInput("k 2 / not an id", "Negative two")]
    submission = provider.submit_batch(step, rows)
    (batch_id,) = submission.batches
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=server.base_url) as client:
        client.messages.batches.cancel(batch_id)
    outcome = provider.collect_batch(step, batch_id, {r.key: r for r in rows})
    assert outcome.done and outcome.failed == 2
    assert sorted(r.key for r in outcome.results) == sorted(r.key for r in rows)
    assert all(r.status == "failed" and "canceled" in r.error for r in outcome.results)


def test_batches_split_at_the_request_limit_and_the_budget_caps_submission(
    server, monkeypatch
) -> None:
    monkeypatch.setattr(batch_api, "MAX_REQUESTS", 2)
    server.batch_delay_s = 3600
    provider = get_provider("claude-haiku-4-5", settings_for(server))
    rows = [RowInput(f"k{i}", f"Positive {i}") for i in range(5)]
    seen: list[tuple[str, list[str]]] = []
    submission = provider.submit_batch(
        _step(), rows, on_batch=lambda b, keys: seen.append((b, keys))
    )
    assert [len(k) for _, k in seen] == [2, 2, 1] and dict(seen) == submission.batches
    budget = Budget(0.0003)
    capped = provider.submit_batch(
        _step(), [RowInput(f"z{i}", f"Negative {i}") for i in range(5)], budget=budget
    )
    held = sum(len(k) for k in capped.batches.values())
    assert 0 < held < 5 and "cost cap" in capped.problem


@pytest.mark.timeout(300)
def test_a_batch_run_killed_while_waiting_resumes_without_sending_twice(tmp_path, server) -> None:
    server.batch_delay_s = 3600
    path = book(tmp_path, [f"Review {i}: Positive, parcel {i}" for i in range(6)])
    env = {
        **os.environ, "ANTHROPIC_BASE_URL": server.base_url, "ANTHROPIC_API_KEY": "sk-ant-test",
        "SHEETAI_BATCH_POLL_SECONDS": "0.1",
    }  # fmt: skip
    kill_while_waiting(path, 6, env)
    server.batch_delay_s = 0
    resumed = run(path, settings_for(server))
    assert column(read_sheet(path), "Sentiment") == ["Positive"] * 6
    assert server.stats()["requests_by_path"][CREATE] == 1 and not server.bodies
    assert resumed.steps[0].failed == 0
