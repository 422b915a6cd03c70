"""FakeOpenAI: the fake model served by uvicorn on 127.0.0.1, in a thread or its own process.

In a test::

    with FakeOpenAI(rpm=120, latency_ms=10) as server:
        settings = Settings(openai_base_url=server.base_url, openai_api_key="sk-test")

For a benchmark, :func:`start_subprocess` runs ``python -m devservers.openai`` (so that the
server's CPU is not the client's) and waits until it answers.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from typing import Any

import uvicorn

from .. import serving
from .app import make_app
from .model import FakeModel

__all__ = ["FakeOpenAI", "main", "start_subprocess"]

# The options a benchmark passes to a server in its own process.
_CLI_OPTIONS = {
    "rpm": int, "tpm": int, "latency_ms": float, "fault_rate": float, "rate_headers": str,
    "answer_spread": float,
}  # fmt: skip


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
        sock = serving.listen()
        self.port = sock.getsockname()[1]
        return sock

    def uvicorn_server(self) -> uvicorn.Server:
        self._server = serving.uvicorn_server(self.app)
        return self._server

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread; return once the server accepts connections."""
        sock = self.bind()
        self._thread = serving.serve_in_thread(self.uvicorn_server(), sock, "FakeOpenAI")
        self._sock = sock
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are cut short."""
        if self._thread is not None:
            serving.stop(self._server, self._thread)
        if self._sock is not None:
            self._sock.close()
        self._server, self._thread, self._sock = None, None, None


def start_subprocess(timeout: float = 20.0, **opts: Any) -> tuple[subprocess.Popen, str]:
    """Start ``python -m devservers.openai`` with ``opts``; return ``(proc, base_url)``.

    Options are the constructor's that a benchmark needs (``rpm=3000, latency_ms=200``). Stop
    it with ``proc.terminate(); proc.wait()``; ``GET /_fake/stats`` gives its counters.
    """
    return serving.start_subprocess("devservers.openai", opts, name="FakeOpenAI", timeout=timeout)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print ``READY <base_url>`` once listening."""
    options = serving.parse_options(
        argv, "python -m devservers.openai", _CLI_OPTIONS, "A fake OpenAI-compatible server."
    )
    server = FakeOpenAI(**options)
    sock = server.bind()
    serving.serve_forever(server.uvicorn_server(), sock, server.base_url)
