"""FakeClaude: the fake Anthropic API served by uvicorn on 127.0.0.1, in a thread or a process.

In a test::

    with FakeClaude(rpm=120) as server:
        settings = Settings(anthropic_base_url=server.base_url, anthropic_api_key="sk-test")

A benchmark runs ``python -m devservers.anthropic`` (:func:`start_subprocess`) so that the
server's CPU is not the client's.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Any

from .. import serving
from .app import make_app
from .model import FakeClaudeModel

__all__ = ["FakeClaude", "main", "start_subprocess"]

_OPTIONS = {"rpm": int, "input_tpm": int, "output_tpm": int, "latency_ms": float}


class FakeClaude(FakeClaudeModel):
    """The Anthropic API on a free port; options and counters are :class:`FakeClaudeModel`'s."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._sock = serving.listen()
        self.port = self._sock.getsockname()[1]
        self.server = serving.uvicorn_server(make_app(self))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``ANTHROPIC_BASE_URL`` (the SDK adds ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeClaude:
        self._thread = serving.serve_in_thread(self.server, self._sock, "FakeClaude")
        return self

    def __exit__(self, *exc: object) -> None:
        serving.stop(self.server, self._thread)
        self._sock.close()


def start_subprocess(timeout: float = 20.0, **opts: Any) -> tuple[subprocess.Popen, str]:
    """Start ``python -m devservers.anthropic`` with ``opts``; return ``(proc, base_url)``.

    Stop it with ``proc.terminate(); proc.wait()``; ``GET /_fake/stats`` gives its counters.
    """
    return serving.start_subprocess(
        "devservers.anthropic", opts, name="FakeClaude", timeout=timeout
    )


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print ``READY <base_url>`` once listening."""
    server = FakeClaude(**serving.parse_options(argv, "python -m devservers.anthropic", _OPTIONS))
    serving.serve_forever(server.server, server._sock, server.base_url)
