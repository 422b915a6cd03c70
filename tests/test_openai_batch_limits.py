"""``--batch`` within limits: ``--max-cost`` caps what is submitted, and Ctrl-C or SIGTERM in the
middle of a multi-batch upload loses no batch already created (billed).

The real ``openai`` SDK talks to FakeOpenAI over HTTP; what the server received is read back
through the SDK's Files and Batches API, and the results from the saved workbook. Interrupts are
real signals sent to this process while the CLI command runs in it (``CliRunner``): the same
handlers, ``KeyboardInterrupt`` and exit code 130 as a terminal's Ctrl-C or a ``kill``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import openai
import pytest
from typer.testing import CliRunner

from devservers.openai import FakeOpenAI
from sheetai.backends import open_backend
from sheetai.cli.app import app
from sheetai.engine.sync import SyncOptions, sync
from sheetai.providers.openai import batch as batch_api
from sheetai.settings import Settings
from sheetai.state import STATE_TAB, StateStore
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

MODEL = "gpt-4o-mini"


@pytest.fixture
def server():
    with FakeOpenAI(batch_delay_s=3600) as srv:
        yield srv


def settings_for(server: FakeOpenAI, **extra: Any) -> Settings:
    return Settings(openai_base_url=server.base_url, openai_api_key="sk-test-secret", **extra)


def book(folder: Path, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(rows)]]
    return make_workbook(folder / "b.xlsx", data, [sentiment_step(Model=MODEL)])


def run(path: Path, settings: Settings, **options: Any):
    with open_backend(str(path), settings) as backend:
        return sync(backend, settings, SyncOptions(**options))


def cli_run(path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["run", str(path), "--batch", "--yes", "--json", *extra])
    return result.exit_code, json.loads(result.stdout)


def submitted(server: FakeOpenAI) -> list[str]:
    """The row text of every batch line the server was given, over all its batches."""
    texts = []
    with openai.OpenAI(api_key="k", base_url=server.base_url) as client:
        for batch in client.batches.list(limit=100).data:
            for raw in client.files.content(batch.input_file_id).text.splitlines():
                texts.append(json.loads(raw)["body"]["messages"][-1]["content"])
    return texts


def times_submitted(server: FakeOpenAI, rows: list[str]) -> list[int]:
    sent = submitted(server)
    return [sum(row in text for text in sent) for row in rows]


def pending_batches(path: Path) -> list[str]:
    state = StateStore.from_grid(read_sheet(path, STATE_TAB))
    return [entry["id"] for entry in state.extras.get("batches", [])]


def finish(path: Path, server: FakeOpenAI) -> None:
    """A later ``--batch --wait`` run with no cap: collects what is pending, submits the rest."""
    server.batch_delay_s = 0
    summary = run(path, settings_for(server, batch_poll_seconds=0.01), batch=True, wait=True)
    assert summary.status == "done" and summary.total("failed") == 0


# -- --max-cost ---------------------------------------------------------------------------------


def test_max_cost_submits_rows_in_order_while_their_half_price_estimate_fits(
    tmp_path, server, monkeypatch
) -> None:
    rows = [f"Positive review number {i:02d}" for i in range(10)]  # equal lengths, equal costs
    path = book(tmp_path, rows)
    plan = run(path, settings_for(server), dry_run=True)
    per_row = plan.total("estimated_cost_usd") / len(rows) / 2  # the Batch API costs half
    batch_plan = run(path, settings_for(server), dry_run=True, batch=True)
    assert batch_plan.total("estimated_cost_usd") == pytest.approx(per_row * len(rows))
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)

    code, data = cli_run(path, "--max-cost", repr(3.5 * per_row))

    assert code == 0
    assert data["status"] == "cost_cap" and data["steps"][0]["status"] == "cost_cap"
    assert data["batch_pending"] == 3 and data["processed"] == 0 and data["planned"] == 7
    assert any("cost cap" in m and "3 of 10 rows" in m for m in data["messages"])
    # The first three rows went, in order; the others were not sent and are left untouched.
    assert times_submitted(server, rows) == [1, 1, 1] + [0] * 7
    sheet = read_sheet(path)
    assert column(sheet, "Sentiment flag") == ["BATCH_PENDING"] * 3 + [None] * 7
    assert column(sheet, "Sentiment") == [None] * 10
    assert column(sheet, "Sentiment reasoning")[3:] == [None] * 7
    assert len(pending_batches(path)) == 1 and not server.chat_bodies

    finish(path, server)
    sheet = read_sheet(path)
    assert column(sheet, "Sentiment") == ["Positive"] * 10
    assert column(sheet, "Sentiment flag") == [None] * 10
    # The later run collected the first batch and submitted only the seven left.
    assert times_submitted(server, rows) == [1] * 10 and not server.chat_bodies


def test_cached_rows_are_written_even_when_the_cap_lets_no_row_into_a_batch(
    tmp_path, server
) -> None:
    run(book(tmp_path / "earlier", ["Positive a", "Negative b"]), settings_for(server))
    answered_live = len(server.chat_bodies)
    path = book(tmp_path / "now", ["Positive a", "Negative b", "Positive c"])

    summary = run(path, settings_for(server), batch=True, max_cost_usd=1e-9)

    sheet = read_sheet(path)
    assert column(sheet, "Sentiment") == ["Positive", "Negative", None]
    assert column(sheet, "Sentiment flag") == [None, None, None]
    step = summary.steps[0]
    assert summary.status == step.status == "cost_cap"
    assert step.processed == 2 and step.cached == 2 and step.cost_usd == 0
    assert step.batch_pending == 0 and not step.batch_ids and not pending_batches(path)
    assert any("0 of 1 rows" in m for m in summary.messages)
    assert submitted(server) == [] and len(server.chat_bodies) == answered_live


def test_without_a_cap_every_row_is_submitted(tmp_path, server) -> None:
    rows = ["Positive a", "Negative b", "Positive c"]
    path = book(tmp_path, rows)
    summary = run(path, settings_for(server), batch=True)
    assert summary.status == "done" and summary.steps[0].batch_pending == 3
    assert times_submitted(server, rows) == [1, 1, 1]
    assert not any("cost cap" in m for m in summary.messages)


# -- Ctrl-C and SIGTERM during a multi-batch submit -------------------------------------------


class SignalDuring:
    """FakeOpenAI's ``on_request`` hook: sends this process a signal while it waits for the
    ``nth`` upload or batch creation.

    The whole request has arrived when the signal goes; the answer follows 0.2 s later (the
    batch is created then, as a server that is a little slow would), so the signal lands while
    the client waits for it.
    """

    def __init__(self, kind: str, nth: int, signum: int, to_main_thread: bool) -> None:
        self.kind, self.nth, self.signum = kind, nth, signum
        self.to_main_thread = to_main_thread
        self.seen: collections.Counter[str] = collections.Counter()

    async def __call__(self, method: str, path: str) -> None:
        kinds = {"/files": "upload", "/batches": "create"}
        kind = next((k for end, k in kinds.items() if path.endswith(end)), None)
        if method != "POST" or kind is None:
            return
        self.seen[kind] += 1
        if kind == self.kind and self.seen[kind] == self.nth:
            if self.to_main_thread:  # interrupts the blocked read at once (EINTR)
                signal.pthread_kill(threading.main_thread().ident or 0, self.signum)
            else:  # as a terminal or kill sends it: any thread of the process may take it
                os.kill(os.getpid(), self.signum)
            await asyncio.sleep(0.2)


ROWS = ["Positive a", "Negative b", "Positive c", "Negative d", "Positive e"]


@pytest.fixture
def five_rows_in_three_batches(monkeypatch) -> None:
    monkeypatch.setattr(batch_api, "MAX_LINES", 2)  # 5 rows: batches of 2, 2 and 1


def test_ctrl_c_during_the_second_upload_keeps_the_first_batch(
    tmp_path, monkeypatch, five_rows_in_three_batches
) -> None:
    signals = SignalDuring("upload", 2, signal.SIGINT, True)
    with FakeOpenAI(on_request=signals, batch_delay_s=3600) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        path = book(tmp_path, ROWS)

        code, data = cli_run(path)

        assert code == 130 and data["status"] == "interrupted"
        assert data["batch_pending"] == 2 and len(data["steps"][0]["batch_ids"]) == 1
        assert column(read_sheet(path), "Sentiment flag") == ["BATCH_PENDING"] * 2 + [None] * 3
        assert pending_batches(path) == data["steps"][0]["batch_ids"]
        assert signals.seen == {"upload": 2, "create": 1}
        assert times_submitted(server, ROWS) == [1, 1, 0, 0, 0]

        finish(path, server)
        assert column(read_sheet(path), "Sentiment") == ["Positive", "Negative"] * 2 + ["Positive"]
        assert times_submitted(server, ROWS) == [1] * 5 and not server.chat_bodies
        assert not pending_batches(path)


@pytest.mark.parametrize(
    ("signum", "create_fails"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["sigterm-batch-created", "ctrl-c-batch-refused"],
)
def test_a_signal_while_a_batch_is_created_waits_until_it_is_recorded(
    tmp_path, monkeypatch, five_rows_in_three_batches, signum, create_fails
) -> None:
    signals = SignalDuring("create", 2, signum, False)
    with FakeOpenAI(on_request=signals, batch_delay_s=3600) as server:
        if create_fails:
            server.fail_batches(1, 500, after=1)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        path = book(tmp_path, ROWS)

        code, data = cli_run(path)

        made = 1 if create_fails else 2  # batches the server created before the run stopped
        assert code == 130 and data["status"] == "interrupted"
        assert len(data["steps"][0]["batch_ids"]) == made and data["batch_pending"] == 2 * made
        flags = column(read_sheet(path), "Sentiment flag")
        assert flags == ["BATCH_PENDING"] * (2 * made) + [None] * (5 - 2 * made)
        assert pending_batches(path) == data["steps"][0]["batch_ids"]
        # The signal stopped the run before the third upload.
        assert signals.seen == {"upload": 2, "create": 2}
        with openai.OpenAI(api_key="k", base_url=server.base_url) as client:
            # An uploaded file no batch reads was deleted on the way out.
            assert len(client.files.list(purpose="batch").data) == made

        finish(path, server)
        assert column(read_sheet(path), "Sentiment") == ["Positive", "Negative"] * 2 + ["Positive"]
        assert times_submitted(server, ROWS) == [1] * 5 and not server.chat_bodies
