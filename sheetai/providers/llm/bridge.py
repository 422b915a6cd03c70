"""Run an asyncio coroutine in a worker thread and hand what it produces to the caller's thread.

The engine is synchronous: it writes each row's result as it arrives while requests are still in
flight. :func:`stream` runs ``main(out)`` on a fresh event loop in a daemon thread; ``main`` puts
items on ``out`` and the caller iterates over them. An exception raised in the loop is raised
again in the caller's thread.

When the caller stops early (Ctrl-C, an error, closing the iterator), ``stop`` is set so that no
new request is sent, and requests already sent may finish for ``drain_s`` seconds: their answers
go to the cache, so the next run does not pay for them again. A second Ctrl-C stops the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

__all__ = ["stream", "run_all"]

_DONE = object()


def stream(
    main: Callable[[queue.Queue[Any]], Coroutine[Any, Any, None]],
    stop: threading.Event,
    drain_s: float,
    name: str = "sheetai-openai",
) -> Iterator[Any]:
    """Yield each item ``main`` puts on its queue; closing the iterator cancels the rest.

    >>> async def count(out):
    ...     for n in range(3):
    ...         out.put(n)
    >>> list(stream(count, threading.Event(), drain_s=1.0))
    [0, 1, 2]
    """
    out: queue.Queue[Any] = queue.Queue()
    state: dict[str, Any] = {}
    thread = threading.Thread(target=_run, args=(main, out, state), name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # read by the loop's thread: no new request is sent
        # A second Ctrl-C stops waiting for the answers in flight.
        with contextlib.suppress(KeyboardInterrupt):
            thread.join(timeout=drain_s)
        loop, task = state.get("loop"), state.get("task")
        if loop is not None and task is not None and thread.is_alive():
            # The thread may close its loop between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=30)


async def run_all(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every task; when one fails (or the wait is cancelled), cancel the others, wait
    until they have stopped, and raise."""
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _run(
    main: Callable[[queue.Queue[Any]], Coroutine[Any, Any, None]],
    out: queue.Queue[Any],
    state: dict[str, Any],
) -> None:
    loop = asyncio.new_event_loop()
    state["loop"] = loop
    try:
        task = loop.create_task(main(out))
        state["task"] = task
        # Cancelled when the caller closes the iterator: nothing is left to hand over.
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
    except BaseException as error:  # handed to the caller's thread
        out.put(error)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        out.put(_DONE)
