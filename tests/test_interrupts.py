"""Ctrl-C and SIGTERM wait for the end of a held block, whichever thread the kernel picks."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sheetai.interrupts import interrupts_deferrable, interrupts_held


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_block_arrives_after_it(signum: int) -> None:
    # Another thread is alive, as the provider's event loop is during a run: masking the signal
    # in the main thread let the kernel deliver it there, and CPython then interrupted the block.
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    seen: list[str] = []

    def interrupt(number: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Set for SIGINT too: a shell that starts a job in the background ignores SIGINT for it,
    # and Python then installs no KeyboardInterrupt handler of its own.
    previous = signal.signal(signum, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts_held():
                os.kill(os.getpid(), signum)
                time.sleep(0.2)  # ample time for a handler to run if it were going to
                seen.append("block finished")
            seen.append("after the block")  # never: the held signal is delivered on exit
        restored = signal.getsignal(signum)
    finally:
        signal.signal(signum, previous)
        stop.set()
    assert seen == ["block finished"]
    assert restored is interrupt


def test_without_a_signal_nothing_happens_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interrupts_held():
        pass
    assert signal.getsignal(signal.SIGINT) is before


def _raising(number: int, frame: object) -> None:
    raise KeyboardInterrupt


def test_inside_a_span_a_held_block_waits_and_a_free_moment_does_not() -> None:
    previous = signal.signal(signal.SIGINT, _raising)
    seen: list[str] = []
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_deferrable():
            for row in range(3):
                with interrupts_held():
                    if row == 1:
                        os.kill(os.getpid(), signal.SIGINT)
                        time.sleep(0.1)
                    seen.append(f"row {row} written")
        restored_after_held = signal.getsignal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt), interrupts_deferrable():
            os.kill(os.getpid(), signal.SIGINT)  # between rows: stops at once
            time.sleep(0.1)
            seen.append("never")
        restored_after_free = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == ["row 0 written", "row 1 written"]
    assert restored_after_held is _raising and restored_after_free is _raising


def test_a_signal_the_program_ignores_leaves_the_span_holding() -> None:
    ignored: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, _: ignored.append(number))
    try:
        with interrupts_deferrable():
            with interrupts_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)
                assert ignored == []  # held
            assert ignored == [signal.SIGTERM]  # delivered at the end of the block
            with interrupts_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)
                assert ignored == [signal.SIGTERM]  # still held: the span is in place again
        assert len(ignored) == 2
    finally:
        signal.signal(signal.SIGTERM, previous)
