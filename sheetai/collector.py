"""Pausing Python's cycle collector while millions of long-lived objects are made.

Reading a big sheet and planning its rows make a tuple, a string and a list per cell, state
records and row plans — and no reference cycles among them. Each collection would walk all of
them again: a fifth of a 100k-row read and a third of its planning.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator

__all__ = ["collector_paused", "freezing"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (reference counting still frees).

    Nested blocks, or threads that pause it too, leave it as they found it: running once the
    first that paused it is done, never off for good.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def freezing() -> Iterator[Callable[[], None]]:
    """Gives ``freeze``: the objects alive when it is called are left out of every collection
    until the block ends (``gc.freeze``), so a run's sheets and plans are not walked again each
    time the rows written pile up.

    Only on the main thread (a CLI run, ``sheetai watch``): freezing is process-wide, and the
    service's job threads must not pin or thaw each other's objects. A block that never froze
    thaws nothing.
    """
    froze = False

    def freeze() -> None:
        nonlocal froze
        if not froze and threading.current_thread() is threading.main_thread():
            gc.freeze()
            froze = True

    try:
        yield freeze
    finally:
        if froze:
            gc.unfreeze()
