"""Make a block atomic with respect to Ctrl-C and SIGTERM: they wait until it ends."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["interrupts_held"]


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Note SIGINT and SIGTERM during the block and deliver them when it ends.

    Swapping the Python handlers, not masking the signals: a signal the kernel hands to
    another thread (the provider's event loop, an HTTP server, a progress bar) would still
    interrupt a masked main thread, since CPython runs every handler there. Off the main thread
    it does nothing (handlers can only be changed there, and only the main thread is ever
    interrupted).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not None:  # None: set outside Python, cannot be restored
            previous[signum] = signal.signal(signum, lambda number, _: caught.append(number))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if caught:
            signal.raise_signal(caught[0])  # to the handler the program had: it decides
