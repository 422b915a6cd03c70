"""Local OpenAI-compatible servers: response-format fallback, errors that are the same on every
try, a URL where nothing listens, no Batch API, and concurrency from the server's slots.

The real ``openai`` SDK talks over HTTP to FakeOpenAI set up as those servers behave.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from devservers.openai import FakeOpenAI
from sheetai.backends import open_backend
from sheetai.cli.app import app
from sheetai.engine.sync import SyncOptions, sync
from sheetai.settings import Settings
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

MODEL = "smollm2"
LABELS = {"Positive", "Neutral", "Negative"}
ROWS = ["I am so Positive about it", "Negative, it broke", "a Neutral fact"]
MANY = [f"{text} (#{i})" for i in range(3) for text in ROWS]  # all different: one request each


def book(tmp_path: Path, rows: list[str], name: str = "b.xlsx", **step: Any) -> Path:
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(rows)]]
    config = [sentiment_step(**{"Model": MODEL, **step})]
    return make_workbook(tmp_path / name, data, config)


def run(path: Path, settings: Settings, **options: Any):
    with open_backend(str(path), settings) as backend:
        return sync(backend, settings, SyncOptions(**options))


def settings_for(server: FakeOpenAI, **extra: Any) -> Settings:
    return Settings(openai_base_url=server.base_url, **extra)


def log_entry(path: Path) -> dict[str, Any]:
    rows = list(openpyxl.load_workbook(path)["sheetai log"].iter_rows(values_only=True))
    return dict(zip(rows[0], rows[-1], strict=True))


def formats_sent(server: FakeOpenAI) -> list[str]:
    return [(b.get("response_format") or {}).get("type", "none") for b in server.chat_bodies]


def test_a_json_object_only_server_gets_json_object_after_one_refusal(tmp_path) -> None:
    with FakeOpenAI(response_formats=("text", "json_object")) as server:
        path = book(tmp_path, ROWS)
        summary = run(path, settings_for(server))
        sent = formats_sent(server)
        statuses = server.responses_by_status
    rows = read_sheet(path)
    assert column(rows, "Sentiment") == ["Positive", "Negative", "Neutral"]
    assert not any(column(rows, "Sentiment flag"))
    # One refusal for the whole run, then every row in the mode that works.
    assert sent == ["json_schema", "json_object", "json_object", "json_object"]
    assert statuses[500] == 1 and statuses[200] == 3  # (404s: no llama.cpp /props here)
    assert summary.steps[0].response_format == "json_object"
    assert summary.steps[0].retries == 0
    assert log_entry(path)["Response format"] == "json_object"


def test_the_working_mode_is_remembered_for_the_next_run(tmp_path) -> None:
    with FakeOpenAI(response_formats=("text", "json_object")) as server:
        run(book(tmp_path, ROWS[:1]), settings_for(server))
        server.reset_counters()
        summary = run(book(tmp_path, ROWS[1:], name="c.xlsx"), settings_for(server))
        assert formats_sent(server) == ["json_object", "json_object"]
    assert summary.steps[0].response_format == "json_object"


def test_a_text_only_server_gets_the_schema_in_the_prompt_and_answers_are_validated(
    tmp_path,
) -> None:
    with FakeOpenAI(response_formats=("text",)) as server:
        data = [["ID", "Note"], [1, "Order 7 costs 12.5 and ships on 2024-01-15"]]
        config = [
            sentiment_step(
                Step="fields", Input="Note", Task="extract", Labels="price: number\nwhen: date",
                Output="Out", Model=MODEL, Examples="", **{"Min confidence": None},
            )
        ]  # fmt: skip
        path = make_workbook(tmp_path / "e.xlsx", data, config)
        summary = run(path, settings_for(server))
        sent = formats_sent(server)
        system = server.chat_bodies[-1]["messages"][0]["content"]
    assert sent == ["json_schema", "json_object", "none"]
    assert "JSON schema" in system and '"price"' in system
    rows = read_sheet(path)
    assert isinstance(column(rows, "Out price")[0], (int, float))
    assert summary.steps[0].response_format == "text"


def test_a_forced_mode_is_not_changed_and_the_refusal_is_flagged_once_per_row(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("SHEETAI_OPENAI_RESPONSE_FORMAT", "json_schema")
    with FakeOpenAI(response_formats=("text", "json_object")) as server:
        path = book(tmp_path, ROWS)
        summary = run(path, Settings(openai_base_url=server.base_url))
        sent = formats_sent(server)
    flags = column(read_sheet(path), "Sentiment flag")
    # Not retried: the same request would be refused the same way. The flag says why.
    assert sent == ["json_schema"] * 3
    assert all(f.startswith("ERROR: the server refused the request (500)") for f in flags)
    assert all("Input should be 'text' or 'json_object'" in f for f in flags)
    assert summary.steps[0].failed == 3 and summary.steps[0].retries == 0


def test_a_500_naming_a_bad_parameter_is_not_retried(tmp_path) -> None:
    with FakeOpenAI() as server:
        path = book(tmp_path, ["Positive one", "broken __FAULT_BADPARAM__"])
        summary = run(path, settings_for(server, openai_max_retries=5))
        statuses = server.responses_by_status
    flags = column(read_sheet(path), "Sentiment flag")
    assert flags[0] is None
    assert flags[1].startswith("ERROR: the server refused the request (500)")
    assert "Extra inputs are not permitted" in flags[1]
    assert statuses[200] == 1 and statuses[500] == 1 and summary.steps[0].retries == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_base_url_where_nothing_listens_stops_the_step_at_once_and_writes_nothing(
    tmp_path, monkeypatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    path = book(tmp_path, ROWS * 10)
    before = path.read_bytes()
    result = CliRunner().invoke(app, ["run", str(path), "--yes"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"cannot connect to {url} (connection refused): check OPENAI_BASE_URL" in message
    assert "Traceback" not in result.output
    assert path.read_bytes() == before


def test_batch_against_a_server_without_a_batch_api_says_so(tmp_path, monkeypatch) -> None:
    with FakeOpenAI(batch_api=False) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        path = book(tmp_path, ROWS)
        result = CliRunner().invoke(app, ["run", str(path), "--yes", "--batch"])
        message = " ".join(result.output.split())
        assert result.exit_code == 2, result.output
        assert f"the server at {server.base_url} has no Batch API" in message
        assert "Run without --batch" in message
        result = CliRunner().invoke(app, ["run", str(path), "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["processed"] == 3
    assert set(column(read_sheet(path), "Sentiment")) <= LABELS


def test_a_local_server_gets_as_many_requests_at_once_as_it_has_slots(tmp_path) -> None:
    with FakeOpenAI(slots=2, latency_ms=100) as server:
        summary = run(book(tmp_path, MANY), settings_for(server))
        in_flight = server.max_in_flight
    assert summary.steps[0].processed == 9 and in_flight == 2


def test_concurrency_given_on_the_command_line_wins_over_the_slots(tmp_path) -> None:
    with FakeOpenAI(slots=1, latency_ms=100) as server:
        run(book(tmp_path, MANY), settings_for(server), concurrency=4)
        assert server.max_in_flight == 4


def test_a_slow_local_server_without_slots_gets_a_few_requests_at_once(tmp_path) -> None:
    with FakeOpenAI(latency_ms=1100) as server:
        summary = run(book(tmp_path, ROWS + ROWS[:2]), settings_for(server))
        in_flight = server.max_in_flight
    assert summary.steps[0].processed == 5 and in_flight == 2


def test_a_local_timeout_is_not_sent_again(tmp_path) -> None:
    with FakeOpenAI(hang_seconds=3) as server:
        path = book(tmp_path, ["stuck __FAULT_HANG__"])
        settings = settings_for(server, openai_local_timeout_seconds=0.3, openai_max_retries=4)
        summary = run(path, settings)
    flag = column(read_sheet(path), "Sentiment flag")[0]
    assert flag.startswith("ERROR: timed out after 0.3 s, not sent again")
    assert "SHEETAI_OPENAI_LOCAL_TIMEOUT_SECONDS" in flag
    assert summary.steps[0].requests == 1


@pytest.mark.parametrize("kind", ["json_object", "text"])
def test_the_fake_refuses_like_llama_cpp_python(kind: str) -> None:
    import openai

    with FakeOpenAI(response_formats=("text",)) as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        fmt = {"type": "json_object"} if kind == "json_object" else {"type": "text"}
        messages = [{"role": "user", "content": "hi"}]
        if kind == "text":
            client.chat.completions.create(model="m", messages=messages, response_format=fmt)
            return
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="m", messages=messages, response_format=fmt)
    error = caught.value.body
    assert error["type"] == "internal_server_error" and error["code"] is None
    assert error["message"].startswith("1 validation error:")
    assert "'loc': ('body', 'response_format', 'type')" in error["message"]
