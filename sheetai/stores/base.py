"""The one interface both stores implement: statements, transactions, a lock, a ping.

SQL is written once, in the dialect both engines speak: ``?`` placeholders, ``DOUBLE
PRECISION``, ``INSERT … ON CONFLICT … DO UPDATE`` and ``RETURNING``. A transaction taken with
``lock=True`` is serialized with every other locked transaction on the same store, in every
process: SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's transaction-scoped advisory lock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ..errors import SheetAIError

__all__ = ["Rows", "Store", "StoreUnavailable", "Transaction"]

Rows = list[tuple[Any, ...]]


class StoreUnavailable(SheetAIError):
    """The store (the service's database) cannot be reached or refused the statement's
    connection; the caller waits and tries again."""


class Transaction(ABC):
    """Statements that commit together (or not at all)."""

    @abstractmethod
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        """Run one statement; the rows it returns (none for most writes)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of arguments."""


class Store(ABC):
    """A database that several threads (and, for PostgreSQL, several replicas) share.

    Attributes:
        embedded: True when one machine's processes are the only users (SQLite): jobs left
            running by a killed service may be resumed at its next start without waiting for
            their lease.
        name: what ``/readyz`` and logs call it (never a password).
    """

    embedded: bool = False
    name: str = ""
    #: Appended to a SELECT in a transaction, holds the rows it read until commit. Empty for
    #: SQLite, where a ``lock=True`` transaction already holds the whole file.
    for_update: str = ""

    @abstractmethod
    def transaction(self, lock: bool = False) -> AbstractContextManager[Transaction]:
        """A transaction; ``lock=True`` serializes it with every other locked one."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        """One statement in its own transaction."""
        with self.transaction() as tx:
            return tx.execute(sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.transaction() as tx:
            tx.executemany(sql, rows)

    @abstractmethod
    def columns(self, table: str) -> set[str]:
        """The names of ``table``'s columns (empty if it does not exist)."""

    def ensure_schema(self, statements: Sequence[str]) -> None:
        """Create tables and indexes (idempotent; safe when replicas start together)."""
        with self.transaction(lock=True) as tx:
            for statement in statements:
                tx.execute(statement)

    def add_columns(self, table: str, columns: dict[str, str]) -> None:
        """Add the columns a table made by an older version lacks (name → type and default)."""
        for name, kind in columns.items():
            if name in self.columns(table):
                continue
            try:
                self.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            except Exception:
                # Another process added it first (replicas upgrading together); a real failure
                # shows when the column is still missing.
                if name not in self.columns(table):
                    raise

    def ping(self) -> bool:
        """True when a statement gets through now."""
        try:
            return self.execute("SELECT 1") == [(1,)]
        except StoreUnavailable:
            return False

    @abstractmethod
    def close(self) -> None: ...


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in runs of at most ``size``.

    >>> [list(c) for c in chunks([1, 2, 3], 2)]
    [[1, 2], [3]]
    """
    for start in range(0, len(items), size):
        yield items[start : start + size]
