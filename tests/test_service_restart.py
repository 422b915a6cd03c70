"""`sheetai serve` as a real process: a job interrupted by a kill resumes when it starts again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devservers.sheets import FakeSheets, make_service_account
from sheetai.state import STATE_TAB

from .conftest import CONFIG_HEADER, PATIENCE_S, REVIEWS, sentiment_step

TOKEN = "restart-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sheetai", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError("service did not start:\n" + log.read_text())


def job(port: int, job_id: str) -> dict[str, Any]:
    reply = httpx.get(
        f"http://127.0.0.1:{port}/v1/jobs/{job_id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.timeout(900)  # two services and a sync on the embedded model; nothing waits on time
def test_a_killed_service_resumes_the_job(tmp_path: Path, sheetai_home: Path) -> None:
    n = 240
    with FakeSheets() as sheets:
        info = make_service_account(sheets)
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(info))
        rows = [["ID", "Review"], *[[i, f"{REVIEWS[i % 8]} #{i}"] for i in range(n)]]
        sid = sheets.add_spreadsheet(
            "Big", {"Feedback": rows, "sheetai": [CONFIG_HEADER, sentiment_step()]},
            share_with=[info["client_email"]],
        )  # fmt: skip
        env = {
            **os.environ,
            "SHEETAI_HOME": str(sheetai_home),
            "SHEETAI_GOOGLE_API_URL": sheets.url,
            "SHEETAI_GOOGLE_CREDENTIALS": str(key_file),
            "SHEETAI_SERVICE_TOKEN": TOKEN,
            "SHEETAI_CHUNK_ROWS": "20",
            "SHEETAI_GOOGLE_COMMIT_SECONDS": "0",
        }
        port, log = free_port(), tmp_path / "serve.log"
        first = start(env, port, log)
        try:
            reply = httpx.post(
                f"http://127.0.0.1:{port}/v1/sync",
                json={"spreadsheet_id": sid, "step": None, "force": False},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            assert reply.status_code == 202, reply.text
            job_id = reply.json()["job_id"]
            # The kill comes when 40 rows are in the state tab: an event, not a moment.
            deadline = time.monotonic() + PATIENCE_S
            while True:
                state = (
                    sheets.values(sid, STATE_TAB) if STATE_TAB in sheets.sheet_titles(sid) else []
                )
                if len(state) >= 2 + 40:
                    break
                assert time.monotonic() < deadline, "no 40 rows saved:\n" + log.read_text()
                time.sleep(0.05)
            assert job(port, job_id)["status"] == "running"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        saved = len(sheets.values(sid, STATE_TAB)) - 2
        assert 40 <= saved < n

        second = start(env, port, log)
        try:
            deadline = time.monotonic() + PATIENCE_S
            while (status := job(port, job_id))["status"] not in ("done", "failed"):
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
        finally:
            second.terminate()
            second.wait(timeout=10)
        assert status["status"] == "done", status
        assert status["summary"]["processed"] <= n - saved
        assert status["summary"]["skipped_unchanged"] >= saved
        values = sheets.values(sid, "Feedback")
        assert all(r[2] in {"Positive", "Neutral", "Negative"} for r in values[1:])
        assert '"event": "job resumed"' in log.read_text()
