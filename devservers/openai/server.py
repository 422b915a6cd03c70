"""FakeOpenAI: the fake model served by uvicorn on 127.0.0.1, in a thread or its own process.

In a test::

    with FakeOpenAI(rpm=120, latency_ms=10) as server:
        settings = Settings(openai_base_url=server.base_url, openai_api_key="sk-test")

For a benchmark, :func:`start_subprocess` runs ``python -m devservers.openai`` (so that the
server's CPU is not the client's) and waits until it answers.
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
from .model import FakeModel

__all__ = ["FakeOpenAI", "main", "start_subprocess"]

# The options a benchmark passes to a server in its own process.
_CLI_OPTIONS = {
    "rpm": int, "tpm": int, "latency_ms": float, "fault_rate": float, "rate_headers": str,
    "answer_spread": float,
}  # fmt: skip
_REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeOpenAI(FakeModel):
    """An OpenAI-compatible server; the options and counters are :class:`FakeModel`'s."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.app = make_app(self, self._stopping)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, for ``OpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``AzureOpenAI(azure_endpoint=...)``."""
        return f"http://127.0.0.1:{self.port}"

    def _stopping(self) -> bool:
        return self._server is None or self._server.should_exit

    def bind(self) -> socket.socket:
        """Listen on a free port of 127.0.0.1."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then (else +40 ms per response).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        return sock

    def uvicorn_server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", ws="none",
            http="h11", loop="asyncio", timeout_graceful_shutdown=2, timeout_keep_alive=60,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread; return once the server accepts connections."""
        sock = self.bind()
        server = self.uvicorn_server()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="FakeOpenAI", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeOpenAI did not start")
            time.sleep(0.005)
        self._sock = sock
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are cut short."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server, self._thread, self._sock = None, None, None


def start_subprocess(timeout: float = 20.0, **opts: Any) -> tuple[subprocess.Popen, str]:
    """Start ``python -m devservers.openai`` with ``opts``; return ``(proc, base_url)``.

    Options are the constructor's that a benchmark needs (``rpm=3000, latency_ms=200``). Stop
    it with ``proc.terminate(); proc.wait()``; ``GET /_fake/stats`` gives its counters.
    """
    argv = [sys.executable, "-m", "devservers.openai"]
    for key, value in opts.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=_REPO_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    proc.stdout.close()
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"FakeOpenAI subprocess did not start (exit code {proc.returncode})")
    return proc, line.split()[1]


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print ``READY <base_url>`` once listening."""
    parser = argparse.ArgumentParser(
        prog="python -m devservers.openai", description="A fake OpenAI-compatible server."
    )
    for name, kind in _CLI_OPTIONS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind)
    args = vars(parser.parse_args(argv))
    server = FakeOpenAI(**{k: v for k, v in args.items() if v is not None})
    sock = server.bind()
    print(f"READY {server.base_url}", flush=True)
    server.uvicorn_server().run(sockets=[sock])
