"""The embedded store: one SQLite file in WAL mode, shared by the CLI, the service and Excel."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..sqlite import open_store as open_sqlite
from .base import Rows, Store, StoreUnavailable, Transaction

__all__ = ["SqliteStore"]


class _SqliteTransaction(Transaction):
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        return [tuple(row) for row in self.db.execute(sql, tuple(args)).fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, [tuple(r) for r in rows])


class SqliteStore(Store):
    """One SQLite file; one connection guarded by a lock (threads), WAL between processes."""

    embedded = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = f"sqlite:{self.path.name}"
        self._lock = threading.Lock()
        self._db = open_sqlite(self.path, [])
        # Transactions are opened explicitly below (BEGIN IMMEDIATE when locked).
        self._db.isolation_level = None

    @contextmanager
    def transaction(self, lock: bool = False) -> Iterator[Transaction]:
        # IMMEDIATE takes the file's write lock at once, so two processes' locked
        # transactions run one after the other instead of failing at their first write.
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE" if lock else "BEGIN")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"{self.path}: {exc}") from exc
            try:
                yield _SqliteTransaction(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        with self._lock:
            self._db.close()
