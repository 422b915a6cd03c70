"""Replicas' store: PostgreSQL through psycopg 3 and a small connection pool.

Statements are written with ``?`` placeholders (as for SQLite) and sent with ``%s``; none of
sheetai's SQL holds a literal ``?`` or ``%``. A lost database surfaces as
:class:`~.base.StoreUnavailable` within ``timeout`` seconds, never as a hang.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .base import Rows, Store, StoreUnavailable, Transaction

__all__ = ["PostgresStore", "redact"]

_LOCK_KEY = zlib.crc32(b"sheetai") & 0x7FFFFFFF  # the advisory lock of locked transactions


def redact(url: str) -> str:
    """The URL without its password, for logs and ``/readyz``.

    >>> redact("postgresql://sheetai:s3cret@db:5432/sheetai")
    'postgresql://sheetai:***@db:5432/sheetai'
    """
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


class _PgTransaction(Transaction):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        with self.conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), tuple(args))
            return [tuple(row) for row in cur.fetchall()] if cur.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])


class PostgresStore(Store):
    """A pool of at most ``max_size`` connections to one PostgreSQL database."""

    for_update = " FOR UPDATE"

    def __init__(self, url: str, max_size: int = 8, timeout: float = 5.0) -> None:
        self.url = url
        self.users = 1  # open_store hands one pool to every user in a process
        try:
            import psycopg
            from psycopg_pool import ConnectionPool, PoolTimeout
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreUnavailable(
                "a postgresql:// store needs psycopg 3: pip install 'sheetai[serve]'."
            ) from exc
        self.name = redact(url)
        self._errors: tuple[type[BaseException], ...] = (psycopg.OperationalError, PoolTimeout)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"connect_timeout": max(1, int(timeout)), "autocommit": True},
            # A connection broken while the database was away is dropped, not handed out.
            check=ConnectionPool.check_connection,
            reconnect_timeout=24 * 3600,
        )
        self._pool.open(wait=False)

    @contextmanager
    def transaction(self, lock: bool = False) -> Iterator[Transaction]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                tx = _PgTransaction(conn)
                if lock:
                    tx.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
                yield tx
        except self._errors as exc:
            raise StoreUnavailable(f"the database {self.name} is unreachable ({exc}).") from exc

    def ping(self) -> bool:
        """True when the database answers within a second or two (``/readyz`` must be quick)."""
        try:
            with self._pool.connection(timeout=2) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except self._errors:
            return False

    def columns(self, table: str) -> set[str]:
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
            " AND table_schema = current_schema()",
            (table,),
        )
        return {row[0] for row in rows}

    def close(self) -> None:
        """Let go of the store; the pool closes when its last user has."""
        self.users -= 1
        if self.users <= 0:
            self._pool.close()
