"""Answers already paid for, kept on disk under ``SHEETAI_HOME`` and shared by every entry point.

The CLI, the service and the Excel functions all look here first, so a rerun, a second workbook
with the same rows, or a recalculated ``=AICLASSIFY()`` never pays twice. SQLite in WAL mode lets
several processes share the file.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .sqlite import open_store

__all__ = ["ResultCache", "cache_key"]


def cache_key(*parts: Any) -> str:
    """A stable key for anything JSON can hold.

    >>> cache_key("gpt-4.1-mini", ["a", "b"], "hi") == cache_key("gpt-4.1-mini", ["a", "b"], "hi")
    True
    """
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """A key → JSON value store in one SQLite file; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_store(
            path,
            [
                "CREATE TABLE IF NOT EXISTS results"
                " (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            ],
        )

    @classmethod
    def in_home(cls, home: Path) -> ResultCache:
        return cls(Path(home) / "cache.sqlite3")

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM results WHERE key IN ({marks})", chunk
                )
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put_many(self, values: Mapping[str, Any]) -> None:
        now = time.time()
        rows = [(k, json.dumps(v, ensure_ascii=False, default=str), now) for k, v in values.items()]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", rows)

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
