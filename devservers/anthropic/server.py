"""FakeClaude: the fake Anthropic API served by uvicorn on 127.0.0.1, in a thread or a process.

In a test::

    with FakeClaude(rpm=120) as server:
        settings = Settings(anthropic_base_url=server.base_url, anthropic_api_key="sk-test")

A benchmark runs ``python -m devservers.anthropic`` (:func:`start_subprocess`) so that the
server's CPU is not the client's.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from .app import make_app
from .model import FakeClaudeModel

__all__ = ["FakeClaude", "main", "start_subprocess"]

_OPTIONS = {"rpm": int, "input_tpm": int, "output_tpm": int, "latency_ms": float}
_ROOT = Path(__file__).resolve().parents[2]


def _listen() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then (else +40 ms per response).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


class FakeClaude(FakeClaudeModel):
    """The Anthropic API on a free port; options and counters are :class:`FakeClaudeModel`'s."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._sock = _listen()
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            make_app(self), log_level="warning", access_log=False, lifespan="off", ws="none",
            http="h11", loop="asyncio", timeout_graceful_shutdown=2, timeout_keep_alive=60,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``ANTHROPIC_BASE_URL`` (the SDK adds ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeClaude:
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeClaude did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()


def start_subprocess(timeout: float = 20.0, **opts: Any) -> tuple[subprocess.Popen, str]:
    """Start ``python -m devservers.anthropic`` with ``opts``; return ``(proc, base_url)``.

    Stop it with ``proc.terminate(); proc.wait()``; ``GET /_fake/stats`` gives its counters.
    """
    argv = [sys.executable, "-m", "devservers.anthropic"]
    for key, value in opts.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    proc.stdout.close()
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"FakeClaude subprocess did not start (exit code {proc.returncode})")
    return proc, line.split()[1]


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print ``READY <base_url>`` once listening."""
    parser = argparse.ArgumentParser(prog="python -m devservers.anthropic")
    for name, kind in _OPTIONS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind)
    args = vars(parser.parse_args(argv))
    server = FakeClaude(**{k: v for k, v in args.items() if v is not None})
    print(f"READY {server.base_url}", flush=True)
    server.server.run(sockets=[server._sock])
