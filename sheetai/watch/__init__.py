"""``sheetai watch``: sync a workbook file whenever anyone saves it (see :mod:`.watcher`)."""

from .watcher import Watcher, WatchReport

__all__ = ["Watcher", "WatchReport"]
