"""Pausing Python's cycle collector while millions of long-lived objects are made.

Reading a big sheet and planning its rows make a tuple, a string and a list per cell, state
records and row plans — and no reference cycles among them. Each collection would walk all of
them again: a fifth of a 100k-row read and a third of its planning.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


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
