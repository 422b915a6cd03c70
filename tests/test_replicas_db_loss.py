# ruff: noqa: F811  (the PostgreSQL fixtures are imported from tests/postgres.py)
"""A replica that loses its database stops taking jobs, says so on ``/readyz`` and in its log,
refuses new work with 503, and takes jobs again when the database is back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from sheetai import Settings
from sheetai.service import create_app

from .postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)
from .tcp_proxy import TcpProxy
from .test_replicas import Recording

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TOKEN = "db-loss-token"
SHEET = "D" * 30


def until(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_replica_without_its_database_stops_and_resumes(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parts = urlsplit(postgres_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    url = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
    synced = Recording()
    settings = Settings(home=tmp_path, store=url, service_token=TOKEN, job_lease_seconds=2)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    caplog.set_level(logging.INFO, logger="sheetai.service")
    try:
        with TestClient(create_app(settings, run_sync=synced)) as client:
            ready = client.get("/readyz").json()
            assert ready["checks"]["database"] and ready["store"] == url
            proxy.cut()
            until(lambda: client.get("/readyz").status_code == 503)
            until(lambda: not client.get("/readyz").json()["checks"]["taking_jobs"])
            assert not client.get("/readyz").json()["checks"]["database"]
            assert "database unreachable: not taking jobs" in caplog.text
            refused = client.post("/v1/sync", json={"spreadsheet_id": SHEET}, headers=auth)
            assert refused.status_code == 503 and "database" in refused.json()["detail"]

            proxy.restore()
            until(lambda: client.get("/readyz").status_code == 200)
            assert "database reachable again: taking jobs" in caplog.text
            job = client.post("/v1/sync", json={"spreadsheet_id": SHEET}, headers=auth).json()
            until(lambda: synced.sheets == [SHEET])
            until(
                lambda: (
                    client.get(f"/v1/jobs/{job['job_id']}", headers=auth).json()["status"] == "done"
                )
            )
    finally:
        proxy.close()
