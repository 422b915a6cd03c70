"""The `sheetai serve` app: auth, sync jobs on FakeSheets, classify, Excel sync, CORS, health."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devservers.sheets import FakeSheets, make_service_account
from sheetai import Settings
from sheetai.engine.sync import Listener
from sheetai.service import create_app
from sheetai.service.app import google_sync
from sheetai.service.auth import sign
from sheetai.service.jobs import Job
from sheetai.state import STATE_TAB

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step

ACCOUNT = "sheetai-bot@test-project.iam.gserviceaccount.com"
SECRET = "a-sheet-secret-of-32-characters!"
TOKEN = "service-token-for-tests"
ADDON = Path(__file__).resolve().parents[1] / "sheets_addon"


def reviews(n: int) -> list[list[Any]]:
    return [["ID", "Review"], *[[i + 1, f"{REVIEWS[i % len(REVIEWS)]} (#{i})"] for i in range(n)]]


@pytest.fixture
def sheets() -> Iterator[FakeSheets]:
    with FakeSheets() as fake:
        yield fake


@pytest.fixture
def sheet_id(sheets: FakeSheets) -> str:
    return sheets.add_spreadsheet(
        "Reviews",
        {"Feedback": reviews(8), "sheetai": [CONFIG_HEADER, sentiment_step()]},
        share_with=[ACCOUNT],
    )


@pytest.fixture
def settings(sheets: FakeSheets, sheet_id: str, tmp_path: Path, sheetai_home: Path) -> Settings:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(make_service_account(sheets)))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({sheet_id: SECRET}))
    return Settings(
        home=sheetai_home,
        google_api_url=sheets.url,
        google_credentials=key_file,
        service_token=TOKEN,
        sheet_secrets_file=secrets,
        schedule_file=tmp_path / "schedule.json",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def signed(sheet: str, body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if at is None else at)
    return {
        "X-Sheetai-Sheet": sheet,
        "X-Sheetai-Timestamp": stamp,
        "X-Sheetai-Signature": sign(secret, stamp, body),
        "Content-Type": "application/json",
    }


def sync_body(sheet: str, **extra: Any) -> bytes:
    return json.dumps({"spreadsheet_id": sheet, "step": None, "force": False, **extra}).encode()


def wait_for(client: TestClient, job_id: str, sheet: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)  # a fresh timestamp-second is not needed: signatures differ per body only
        reply = client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 200, reply.text
        job = reply.json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
    raise AssertionError(f"job {job_id} did not finish")


def test_a_signed_sync_runs_a_job_that_writes_the_sheet(
    client: TestClient, sheets: FakeSheets, sheet_id: str
) -> None:
    body = sync_body(sheet_id)
    reply = client.post("/v1/sync", content=body, headers=signed(sheet_id, body))
    assert reply.status_code == 202, reply.text
    assert reply.json()["status"] in ("queued", "running")
    job_id = reply.json()["job_id"]
    time.sleep(0.01)
    job_reply = client.get(f"/v1/jobs/{job_id}", headers=signed(sheet_id, b""))
    assert job_reply.status_code == 200
    job = wait_for(client, job_id, sheet_id)
    assert job["status"] == "done", job
    assert job["error"] is None
    assert job["summary"]["processed"] == 8
    assert job["progress"] == {"step": "sentiment", "done": 8, "total": 8}
    rows = sheets.values(sheet_id, "Feedback")
    assert rows[0][2] == "Sentiment" and all(r[2] for r in rows[1:])
    assert sheets.sheet_props(sheet_id, STATE_TAB).get("hidden") is True


def test_bad_signatures_get_401_and_touch_nothing(
    client: TestClient, sheets: FakeSheets, sheet_id: str
) -> None:
    body = sync_body(sheet_id)
    sheets.reset_counters()
    tries = [
        signed(sheet_id, body, secret="not-the-secret-not-the-secret"),
        signed(sheet_id, body, at=int(time.time()) - 301),
        {**signed(sheet_id, body), "X-Sheetai-Signature": "0" * 64},
        signed("another-sheet-id-aaaaaaaaaaaaaaaaaaaaaa", body),
        {"Content-Type": "application/json"},
        {"Authorization": "Bearer wrong-token"},
    ]
    for headers in tries:
        reply = client.post("/v1/sync", content=body, headers=headers)
        assert reply.status_code == 401, headers
        assert isinstance(reply.json()["detail"], str)
        assert SECRET not in reply.text and TOKEN not in reply.text
    tampered = body.replace(b'"force": false', b'"force": true')
    reply = client.post("/v1/sync", content=tampered, headers=signed(sheet_id, body))
    assert reply.status_code == 401
    time.sleep(0.3)
    assert sheets.reads == sheets.writes == 0
    assert len(sheets.values(sheet_id, "Feedback")[0]) == 2


def test_a_replayed_signature_is_refused(client: TestClient, sheet_id: str) -> None:
    headers = signed(sheet_id, b"")
    assert client.get("/v1/jobs/nope", headers=headers).status_code == 404
    assert client.get("/v1/jobs/nope", headers=headers).status_code == 401


def test_a_replay_is_refused_after_a_restart_too(settings: Settings, sheet_id: str) -> None:
    headers = signed(sheet_id, b"")
    with TestClient(create_app(settings)) as first:
        assert first.get("/v1/jobs/nope", headers=headers).status_code == 404
    with TestClient(create_app(settings)) as restarted:
        assert restarted.get("/v1/jobs/nope", headers=headers).status_code == 401


def test_a_sheet_signature_cannot_sync_or_see_another_sheet(
    client: TestClient, sheets: FakeSheets, sheet_id: str
) -> None:
    other = "1" + "b" * 43
    body = sync_body(other)
    assert client.post("/v1/sync", content=body, headers=signed(sheet_id, body)).status_code == 403
    started = client.post(
        "/v1/sync", content=sync_body(sheet_id), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    wait_for(client, job_id, sheet_id)


def test_a_second_request_joins_the_running_job(
    settings: Settings, sheets: FakeSheets, sheet_id: str
) -> None:
    gate = threading.Event()
    real = google_sync(settings)

    def gated(job: Job, listener: Listener) -> dict[str, Any]:
        gate.wait(10)
        return real(job, listener)

    with TestClient(create_app(settings, run_sync=gated)) as client:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        first = client.post("/v1/sync", content=sync_body(sheet_id), headers=bearer).json()
        body = sync_body(sheet_id, step="sentiment")
        second = client.post("/v1/sync", content=body, headers=signed(sheet_id, body)).json()
        assert second["job_id"] == first["job_id"]
        gate.set()
        job = wait_for(client, first["job_id"], sheet_id)
        assert job["status"] == "done"
        third = client.post("/v1/sync", content=sync_body(sheet_id), headers=bearer).json()
        assert third["job_id"] != first["job_id"]
        assert wait_for(client, third["job_id"], sheet_id)["summary"]["processed"] == 0


def test_a_failed_sync_says_why(client: TestClient, sheets: FakeSheets) -> None:
    hidden_from_us = sheets.add_spreadsheet("Private", {"Sheet1": [["x"]]})
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    job_id = client.post("/v1/sync", content=sync_body(hidden_from_us), headers=bearer).json()[
        "job_id"
    ]
    job = wait_for(client, job_id, hidden_from_us)
    assert job["status"] == "failed"
    assert ACCOUNT in job["error"] and "Editor" in job["error"]


def test_sync_body_errors_are_readable(client: TestClient, sheet_id: str) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    reply = client.post("/v1/sync", content=b'{"step": 3}', headers=bearer)
    assert reply.status_code == 422 and "spreadsheet_id" in reply.json()["detail"]
    reply = client.post("/v1/sync", content=sync_body("../../etc/passwd"), headers=bearer)
    assert reply.status_code == 400


def test_classify_answers_in_order_and_a_repeat_is_cached(
    client: TestClient, sheet_id: str
) -> None:
    items = [
        {"text": "I love it, thank you!", "labels": ["Positive", "Negative"]},
        {"text": "   ", "labels": ["Positive", "Negative"]},
        {
            "text": "It broke, I want a refund.",
            "labels": ["Positive", "Negative"],
            "instructions": "Sentiment",
        },
    ]
    body = json.dumps({"items": items}).encode()
    first = client.post("/v1/classify", content=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert first.status_code == 200, first.text
    results = first.json()["results"]
    assert [r.get("label") for r in results] == ["Positive", None, "Negative"]
    assert "error" in results[1]
    assert results[0]["cached"] is False and 0 <= results[0]["confidence"] <= 1
    again = client.post("/v1/classify", content=body, headers=signed(sheet_id, body))
    assert again.status_code == 200
    assert [r.get("cached") for r in again.json()["results"]] == [True, None, True]
    assert client.post("/v1/classify", content=body).status_code == 401


def test_excel_sync_returns_writes_and_new_sheets(client: TestClient) -> None:
    data = [[str(v) if isinstance(v, str) else v for v in row] for row in reviews(5)]
    data.append(["", ""])
    body = {
        "sheets": {"Feedback": data, "sheetai": [CONFIG_HEADER, sentiment_step()]},
        "step": None,
        "force": False,
    }
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    reply = client.post("/v1/excel/sync", json=body, headers=bearer)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["summary"]["processed"] == 5
    assert {"name": STATE_TAB, "hidden": True} in answer["new_sheets"]
    feedback = [w for w in answer["writes"] if w["sheet"] == "Feedback"]
    assert feedback[0]["address"] == "C1:F6"
    assert feedback[0]["values"][0] == [
        "Sentiment",
        "Sentiment reasoning",
        "Sentiment confidence",
        "Sentiment flag",
    ]
    assert all(w["values"] and None not in sum(w["values"], []) for w in answer["writes"])

    # the add-in applies the writes and sends the workbook again: nothing to do
    sheets = {name: [list(r) for r in rows] for name, rows in body["sheets"].items()}
    for write in answer["writes"]:
        grid = sheets.setdefault(write["sheet"], [])
        start_col = ord(write["address"][0]) - 64
        start_row = int(write["address"].split(":")[0][1:])
        for r, values in enumerate(write["values"]):
            while len(grid) < start_row + r:
                grid.append([])
            row = grid[start_row + r - 1]
            row.extend([""] * (start_col - 1 + len(values) - len(row)))
            row[start_col - 1 : start_col - 1 + len(values)] = values
    again = client.post("/v1/excel/sync", json={"sheets": sheets}, headers=bearer).json()
    assert again["summary"]["processed"] == 0 and again["summary"]["skipped_unchanged"] == 5


def test_excel_sync_config_error_names_the_cell(client: TestClient, sheet_id: str) -> None:
    body = {
        "sheets": {
            "Feedback": reviews(2),
            "sheetai": [CONFIG_HEADER, sentiment_step(Input="Revew")],
        }
    }
    reply = client.post("/v1/excel/sync", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 400
    detail = reply.json()["detail"]
    assert detail["cell"].startswith("sheetai!") and "Review" in detail["message"]
    raw = json.dumps(body).encode()
    assert (
        client.post("/v1/excel/sync", content=raw, headers=signed(sheet_id, raw)).status_code == 403
    )


def test_cors_preflight_needs_no_auth_and_allows_private_network(client: TestClient) -> None:
    reply = client.options(
        "/v1/classify",
        headers={
            "Origin": "https://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == "https://localhost:3000"
    assert reply.headers["access-control-allow-private-network"] == "true"
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert "authorization" in reply.headers["access-control-allow-headers"].lower()
    other = client.options(
        "/v1/classify",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and all(ready.json()["checks"].values())


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_apps_script_signature_is_accepted(
    settings: Settings, sheet_id: str, tmp_path: Path
) -> None:
    from sheetai.service.auth import Authenticator, AuthError

    body = sync_body(sheet_id, step="Avis \u00e9t\u00e9")  # non-ASCII escaped: ASCII bytes
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body)
    stamp = str(int(time.time()))
    out = subprocess.run(
        ["node", "test/sign_fixture.js", "--secret", SECRET, "--timestamp", stamp,
         "--sheet", sheet_id, "--body-file", str(body_file)],
        cwd=ADDON, capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    fixture = json.loads(out.stdout)
    headers = {k.lower(): v for k, v in fixture["headers"].items()}
    auth = Authenticator(settings)
    assert auth.check(headers, body).sheet == sheet_id
    fresh = Authenticator(settings)
    with pytest.raises(AuthError, match="does not match"):
        fresh.check(headers, body.replace(b"false", b"true"))


def test_oversized_and_anonymous_bodies_are_refused_early(client: TestClient) -> None:
    big = b'{"items": [' + b" " * (11 * 2**20) + b"]}"
    reply = client.post("/v1/classify", content=big, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 413 and "MB" in reply.json()["detail"]
    anonymous = client.post("/v1/classify", content=big)
    assert anonymous.status_code == 401
    assert "not authenticated" in anonymous.json()["detail"]
