"""Which store a setting names: SQLite files under ``SHEETAI_HOME`` unless ``store`` is a
``postgresql://`` URL, in which case every part of the service shares one pool per process."""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import ConfigError
from ..settings import Settings
from .base import Store
from .postgres import PostgresStore
from .sqlite import SqliteStore

__all__ = ["open_store", "store_url"]

_SCHEMES = ("postgresql://", "postgres://")
_pools: dict[str, PostgresStore] = {}
_pools_lock = threading.Lock()


def store_url(settings: Settings) -> str | None:
    """The PostgreSQL URL the settings name, None for the embedded SQLite store."""
    url = (settings.store or "").strip()
    if not url or url == "sqlite":
        return None
    if not url.startswith(_SCHEMES):
        raise ConfigError(
            f"store '{url.split('@')[-1]}' is neither 'sqlite' nor a postgresql:// URL "
            "(e.g. postgresql://sheetai:<password>@db:5432/sheetai)."
        )
    return url


def open_store(settings: Settings, name: str) -> Store:
    """The store for one part of sheetai (``name``: ``cache``, ``service``, ``replay``…).

    SQLite keeps each part in its own file, ``<home>/<name>.sqlite3`` (the files older versions
    made); PostgreSQL keeps them all in one database.
    """
    url = store_url(settings)
    if url is None:
        return SqliteStore(Path(settings.home) / f"{name}.sqlite3")
    with _pools_lock:
        store = _pools.get(url)
        if store is not None and store.users > 0:
            store.users += 1
            return store
        store = _pools[url] = PostgresStore(url)
        return store
