"""FakeGemini: the fake Gemini API served by uvicorn on 127.0.0.1 in a daemon thread.

In a test::

    with FakeGemini() as server:
        settings = Settings(gemini_base_url=server.base_url, gemini_api_key=server.api_key)
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from .app import make_app
from .model import FakeGeminiModel

__all__ = ["FakeGemini"]


class FakeGemini(FakeGeminiModel):
    """A Gemini API server; the options, faults and counters are :class:`FakeGeminiModel`'s."""

    def __init__(self, api_key: str | None = "gemini-test-key") -> None:
        super().__init__(api_key)
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``HttpOptions(base_url=...)`` (the SDK adds /v1beta)."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeGemini:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            make_app(self), log_level="warning", access_log=False, lifespan="off", ws="none",
            http="h11", loop="asyncio", timeout_graceful_shutdown=2,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="FakeGemini", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeGemini did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
