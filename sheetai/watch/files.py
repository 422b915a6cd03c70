"""What ``sheetai watch`` knows about the file: has it changed since sheetai last saw it, has it
stopped changing, and is another program holding it open."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileMark", "mark_of", "settled", "watched_names"]


@dataclass(frozen=True)
class FileMark:
    """The file as last seen: its stamp (cheap to compare) and its content's digest (for a save
    that changes the stamp but not one byte, e.g. ``touch``)."""

    mtime_ns: int
    size: int
    digest: str = ""

    def same_stamp(self, other: FileMark | None) -> bool:
        return other is not None and (self.mtime_ns, self.size) == (other.mtime_ns, other.size)


def _stamp(path: Path) -> FileMark | None:
    try:
        stat = path.stat()
    except FileNotFoundError:  # between an editor's delete and its rename
        return None
    return FileMark(stat.st_mtime_ns, stat.st_size)


def mark_of(path: Path) -> FileMark | None:
    """The file's stamp and digest now, or None while it does not exist."""
    stamp = _stamp(path)
    if stamp is None:
        return None
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return FileMark(stamp.mtime_ns, stamp.size, digest.hexdigest())


def settled(path: Path, seconds: float, stop: threading.Event) -> FileMark | None:
    """The file's mark once its stamp has not changed for ``seconds``; None if stopped first.

    A program may write the file in several goes, and an editor may write a temp file and
    rename it: syncing before it is done would read half a file.
    """
    stamp, since = _stamp(path), time.monotonic()
    while time.monotonic() - since < seconds:
        if stop.wait(min(0.1, seconds)):
            return None
        now = _stamp(path)
        if now != stamp:
            stamp, since = now, time.monotonic()
    if stamp is None:  # gone: its next appearance is a change of its own
        return None
    mark = mark_of(path)
    return mark if mark is not None and mark.same_stamp(_stamp(path)) else None


def watched_names(path: Path) -> set[str]:
    """The names in the folder whose changes matter: the file and the lock files of office
    programs (their removal means the file was closed)."""
    name = path.name
    return {name, f"~${name}", f"~${name[2:]}", f".~lock.{name}#"}
