"""Several ``sheetai serve`` processes on 127.0.0.1 sharing one PostgreSQL database.

Each replica has its own ``SHEETAI_HOME`` (nothing is shared through files) and writes its JSON
log to its own file; the tests and ``benchmarks/replicas.py`` read what each did from there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Cluster", "Replica", "TOKEN"]

TOKEN = "replicas-test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@dataclass
class Cluster:
    """``count`` replicas started with ``env`` on top of this process's environment."""

    store: str
    root: Path
    env: dict[str, str]
    count: int = 3
    replicas: list[Replica] = field(default_factory=list)

    def __enter__(self) -> Cluster:
        for i in range(self.count):
            self.replicas.append(self._start(i))
        for replica in self.replicas:
            self._wait_ready(replica)
        return self

    def __exit__(self, *exc: object) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.terminate()
        for replica in self.replicas:
            try:
                replica.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                replica.kill()

    def _start(self, i: int) -> Replica:
        home = self.root / f"replica{i}"
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "SHEETAI_HOME": str(home), "SHEETAI_SERVICE_TOKEN": TOKEN}
        port, log = _free_port(), self.root / f"replica{i}.log"
        with log.open("ab") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "sheetai", "serve", "--port", str(port),
                 "--store", self.store],
                env=env, stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        return Replica(port, log, process)

    def _wait_ready(self, replica: Replica, patience: float = 120) -> None:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{replica.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if replica.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("replica did not start:\n" + replica.log.read_text())

    def alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.process.poll() is None]

    def post(self, replica: Replica, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = httpx.post(f"{replica.url}{path}", json=body, headers=HEADERS, timeout=60)
        assert reply.status_code in (200, 202), reply.text
        return reply.json()  # type: ignore[no-any-return]

    def job(self, job_id: str) -> dict[str, Any]:
        replica = self.alive()[0]
        reply = httpx.get(f"{replica.url}/v1/jobs/{job_id}", headers=HEADERS, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def wait_done(self, job_ids: set[str], patience: float = 120) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + patience
        while True:
            jobs = {job_id: self.job(job_id) for job_id in job_ids}
            if all(j["status"] in ("done", "failed") for j in jobs.values()):
                return jobs
            assert time.monotonic() < deadline, jobs
            time.sleep(0.1)

    def events(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        """``(replica index, log entry)`` for every entry named ``name``, all replicas."""
        return [
            (i, e) for i, r in enumerate(self.replicas) for e in r.events() if e["event"] == name
        ]
