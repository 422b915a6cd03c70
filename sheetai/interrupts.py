"""Make a block atomic with respect to Ctrl-C and SIGTERM: they wait until it ends.

Swapping signal handlers costs ~28 µs a block (four ``signal.signal`` calls), a second per
100k rows written; so a run opens one :func:`interrupts_deferrable` span around its rows, which
installs the handlers once, and each row's :func:`interrupts_held` block inside it only counts
its depth.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["interrupts_deferrable", "interrupts_held"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Gate:
    """Our handlers for a span: a signal inside a held block waits for its end; outside one it
    goes at once to the handler the program had."""

    def __init__(self) -> None:
        self.depth = 0
        self.caught: list[int] = []
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in _SIGNALS:
            if signal.getsignal(signum) is not None:  # None: set outside Python, cannot restore
                self.previous[signum] = signal.signal(signum, self._on_signal)

    def uninstall(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous.clear()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if self.depth:
            self.caught.append(number)
        else:
            self.deliver(number)

    def deliver(self, number: int) -> None:
        """Give ``number`` to the program's own handler (it decides: raise, exit, ignore)."""
        self.uninstall()
        try:
            signal.raise_signal(number)
        finally:
            # Held again whether the handler let the program go on (it ignores the signal) or
            # raised: a block reached while the span unwinds still holds; the span gives the
            # handlers back when it ends.
            self.install()


_gate: _Gate | None = None  # the main thread's open span, if any


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def interrupts_deferrable() -> Iterator[None]:
    """A span (a run's rows) inside which :func:`interrupts_held` blocks are cheap.

    Off the main thread, or inside another span, it does nothing.
    """
    global _gate
    if not _on_main_thread() or _gate is not None:
        yield
        return
    gate = _gate = _Gate()
    gate.install()
    try:
        yield
    finally:
        _gate = None
        gate.uninstall()


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Note SIGINT and SIGTERM during the block and deliver them when it ends.

    Swapping the Python handlers, not masking the signals: a signal the kernel hands to
    another thread (the provider's event loop, an HTTP server, a progress bar) would still
    interrupt a masked main thread, since CPython runs every handler there. Off the main thread
    it does nothing (handlers can only be changed there, and only the main thread is ever
    interrupted).
    """
    if not _on_main_thread():
        yield
        return
    gate = _gate
    if gate is None:  # no span open: this block is one
        with interrupts_deferrable(), interrupts_held():
            yield
        return
    gate.depth += 1
    try:
        yield
    finally:
        gate.depth -= 1
        if not gate.depth and gate.caught:
            number = gate.caught[0]
            gate.caught.clear()
            gate.deliver(number)
