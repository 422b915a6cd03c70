"""Answers already paid for, shared by every entry point — and, over PostgreSQL, every replica.

The CLI, the service and the Excel functions all look here first, so a rerun, a second workbook
with the same rows, or a recalculated ``=AICLASSIFY()`` never pays twice. By default the answers
sit in ``<SHEETAI_HOME>/cache.sqlite3`` (SQLite in WAL mode lets several processes share it);
with ``SHEETAI_STORE=postgresql://…`` they sit in that database, so an answer one replica of
``sheetai serve`` paid for is free on every other.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .settings import Settings
from .stores import Store, open_store
from .stores.base import chunks
from .stores.sqlite import SqliteStore

__all__ = ["ResultCache", "cache_key"]

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS results"
    " (key TEXT PRIMARY KEY, value TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)"
]


def cache_key(*parts: Any) -> str:
    """A stable key for anything JSON can hold.

    >>> cache_key("gpt-4.1-mini", ["a", "b"], "hi") == cache_key("gpt-4.1-mini", ["a", "b"], "hi")
    True
    """
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """A key → JSON value store; safe across threads, processes and (PostgreSQL) replicas."""

    def __init__(self, store: Store | Path) -> None:
        self.store = store if isinstance(store, Store) else SqliteStore(Path(store))
        self.store.ensure_schema(_SCHEMA)

    @classmethod
    def in_home(cls, home: Path) -> ResultCache:
        """The embedded cache under ``home``."""
        return cls(Path(home) / "cache.sqlite3")

    @classmethod
    def for_settings(cls, settings: Settings) -> ResultCache:
        """The cache the settings name: under ``home``, or in the ``store`` database."""
        return cls(open_store(settings, "cache"))

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self.store.transaction() as tx:
            for chunk in chunks(wanted, 500):
                marks = ",".join("?" * len(chunk))
                rows = tx.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk)
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put_many(self, values: Mapping[str, Any]) -> None:
        now = time.time()
        rows = [(k, json.dumps(v, ensure_ascii=False, default=str), now) for k, v in values.items()]
        if rows:
            self.store.executemany(
                "INSERT INTO results (key, value, created) VALUES (?, ?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, created = excluded.created",
                rows,
            )

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})

    def __len__(self) -> int:
        [(count,)] = self.store.execute("SELECT COUNT(*) FROM results")
        return int(count)

    def close(self) -> None:
        self.store.close()
