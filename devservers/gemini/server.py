"""FakeGemini: the fake Gemini API served by uvicorn on 127.0.0.1 in a daemon thread.

In a test::

    with FakeGemini() as server:
        settings = Settings(gemini_base_url=server.base_url, gemini_api_key=server.api_key)
"""

from __future__ import annotations

import threading

import uvicorn

from .. import serving
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
        sock = serving.listen()
        self.port = sock.getsockname()[1]
        self._server = serving.uvicorn_server(make_app(self), keep_alive=5)
        self._thread = serving.serve_in_thread(self._server, sock, "FakeGemini")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            serving.stop(self._server, self._thread)
        self._server = self._thread = None
