"""The one way sheetai opens its small SQLite stores (cache, jobs, replay log)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

__all__ = ["open_store"]


def open_store(path: Path, schema: Sequence[str]) -> sqlite3.Connection:
    """A connection shareable between threads (callers hold their own lock), schema applied.

    WAL lets the CLI, the service and Excel functions share a file; ``synchronous=NORMAL`` in
    WAL mode survives a killed process (only a power cut can lose the last writes) without an
    fsync per write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, timeout=30)
    with db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for statement in schema:
            db.execute(statement)
    return db
