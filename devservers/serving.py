"""Serving a fake server on 127.0.0.1: in a daemon thread for a test, in its own process for a
benchmark (so that the server's CPU is not the client's).

In a thread: :func:`listen` takes a free port, :func:`uvicorn_server` wraps the ASGI app,
:func:`serve_in_thread` runs it and returns once it accepts connections, :func:`stop` ends it.

In a process: :func:`start_subprocess` runs ``python -m <module> --option value ...`` and waits
for its ``READY <url>`` line; the module's ``main`` is :func:`parse_options` and
:func:`serve_forever`.
"""

from __future__ import annotations

import argparse
import functools
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "listen",
    "parse_options",
    "run_in_thread",
    "serve_forever",
    "serve_in_thread",
    "start_subprocess",
    "stop",
    "uvicorn_server",
]

_REPO_ROOT = Path(__file__).resolve().parents[1]
_START_TIMEOUT = 10.0


def listen() -> socket.socket:
    """A socket listening on a free port of 127.0.0.1 (``sock.getsockname()[1]``)."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then (else +40 ms per response).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def uvicorn_server(app: Any, *, keep_alive: int = 60) -> uvicorn.Server:
    """A quiet uvicorn server for ``app`` (h11, no lifespan, no websockets).

    Args:
        app: The ASGI app.
        keep_alive: Seconds an idle keep-alive connection stays open (uvicorn's own default is 5;
            60 spares a benchmark's client reconnects between slow replies).
    """
    import uvicorn  # here: FakeSheets serves without it

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", ws="none", http="h11",
        loop="asyncio", timeout_graceful_shutdown=2, timeout_keep_alive=keep_alive,
    )  # fmt: skip
    return uvicorn.Server(config)


def run_in_thread(
    run: Callable[[], object], name: str, started: Callable[[], bool] = lambda: True
) -> threading.Thread:
    """Call ``run`` in a daemon thread; return once ``started()`` holds.

    Raises:
        RuntimeError: The thread ended, or ``started()`` did not hold within 10 s.
    """
    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not started():
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.005)
    return thread


def serve_in_thread(server: uvicorn.Server, sock: socket.socket, name: str) -> threading.Thread:
    """Serve on ``sock`` in a daemon thread; return once the server accepts connections."""
    run = functools.partial(server.run, sockets=[sock])
    return run_in_thread(run, name, lambda: server.started)


def stop(server: uvicorn.Server | None, thread: threading.Thread | None) -> None:
    """Tell ``server`` to exit (hanging requests are cut short) and wait for its thread."""
    if server is not None:
        server.should_exit = True
    if thread is not None:
        thread.join(timeout=10)


def start_subprocess(
    module: str, opts: Mapping[str, Any], *, name: str, timeout: float = 20.0
) -> tuple[subprocess.Popen, str]:
    """Start ``python -m module --opt value ...``; return ``(proc, url)`` once it is READY.

    Args:
        module: The server's module, whose ``main`` prints ``READY <url>`` once listening.
        opts: Options as keyword names (``latency_ms=200`` becomes ``--latency-ms 200``).
        name: The server's name, for the error.
        timeout: Seconds to wait for the READY line.

    Raises:
        RuntimeError: The process exited or said nothing within ``timeout``; it is killed.
    """
    argv = [sys.executable, "-m", module]
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
        raise RuntimeError(f"{name} subprocess did not start (exit code {proc.returncode})")
    return proc, line.split()[1]


def parse_options(
    argv: list[str] | None, prog: str, options: Mapping[str, type], description: str | None = None
) -> dict[str, Any]:
    """The ``--option value`` pairs of ``argv`` that were given, as keyword names."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for name, kind in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind)
    return {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}


def serve_forever(server: uvicorn.Server, sock: socket.socket, url: str) -> None:
    """Print ``READY <url>`` (what :func:`start_subprocess` waits for), then serve on ``sock``
    until SIGINT/SIGTERM."""
    print(f"READY {url}", flush=True)
    server.run(sockets=[sock])
