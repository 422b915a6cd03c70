"""A real PostgreSQL for the store and replica tests.

The server ``.ci/run`` started (``SHEETAI_TEST_POSTGRES_URL``), else one started here from the
distribution's binaries (``initdb``/``pg_ctl``) in a temp dir, as an unprivileged user when the
tests run as root, on a free 127.0.0.1 port. Each test gets a fresh database. Without a server
the tests are skipped with the reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = ["fresh_database", "pg_unavailable", "postgres_server", "postgres_url", "start_server"]


def pg_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"no PostgreSQL server could be started: {reason}")


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user() -> tuple[dict[str, object], int | None]:
    """Popen arguments that run a command as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}, None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": user.pw_uid, "group": user.pw_gid}, user.pw_uid
    return {}, None


def start_server() -> tuple[str, Callable[[], None]]:
    """Start a throwaway server; its superuser URL and the function that stops it.

    Raises:
        RuntimeError: no server binaries, or the server would not start (the reason).
    """
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("pg_ctl not found (apt-get install postgresql)")
    run_as, uid = _as_user()
    data = Path(tempfile.mkdtemp(prefix="sheetai-pg-"))
    if uid is not None:
        os.chown(data, uid, -1)
    port = _free_port()
    try:
        subprocess.run(
            [bindir / "initdb", "-D", data / "db", "-U", "sheetai", "-A", "trust", "-E", "UTF8"],
            check=True, capture_output=True, **run_as,  # type: ignore[call-overload]
        )  # fmt: skip
        subprocess.run(
            [bindir / "pg_ctl", "-D", data / "db", "-l", data / "server.log", "-w", "-t", "60",
             "start", "-o", f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off"
             " -c max_connections=200"],
            check=True, capture_output=True, **run_as,  # type: ignore[call-overload]
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(data, ignore_errors=True)
        raise RuntimeError(f"{exc} {detail.decode(errors='replace')[-500:]}") from exc

    def stop() -> None:
        subprocess.run(
            [bindir / "pg_ctl", "-D", data / "db", "-m", "immediate", "stop"],
            capture_output=True, **run_as,  # type: ignore[call-overload]
        )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)

    return f"postgresql://sheetai@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's ``postgres`` database, as a superuser."""
    url = os.environ.get("SHEETAI_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    try:
        url, stop = start_server()
    except RuntimeError as exc:
        pg_unavailable(str(exc))
    try:
        yield url
    finally:
        stop()


def fresh_database(server: str) -> str:
    """A new, empty database on ``server``; its URL."""
    import psycopg

    name = f"sheetai_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the test server."""
    return fresh_database(postgres_server)
