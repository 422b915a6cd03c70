"""Pacing to Anthropic's three limits: requests, input tokens and output tokens per minute.

A :class:`Throttle` on a fake clock against FakeClaude's own limiter (:mod:`devservers.anthropic.
limits`), called the way the Claude provider calls it, so minutes of traffic take milliseconds.
"""

from __future__ import annotations

import asyncio

from devservers.anthropic.limits import Limits, Window
from sheetai.providers.llm.throttle import Throttle
from tests.test_throttle_adaptive import FakeClock


def test_the_limits_the_headers_name_are_adopted_and_a_lower_setting_wins() -> None:
    window = Window()
    headers = window.headers(Limits(rpm=50, input_tpm=40_000, output_tpm=8_000), 0.0)
    throttle = Throttle(clock=FakeClock())
    throttle.learn(headers)
    assert (throttle.rpm, throttle.tpm, throttle.output_tpm) == (50, 40_000, 8_000)
    assert throttle.learned
    mine = Throttle(rpm=20, output_tpm=1_000, clock=FakeClock())
    mine.learn(headers)
    assert (mine.rpm, mine.tpm, mine.output_tpm) == (20, 40_000, 1_000)


def _simulate(throttle: Throttle, clock: FakeClock, limits: Limits, minutes: float, settle: bool):
    """Requests of 300 input tokens and max_tokens 200 that write 20: (answered, 429s)."""
    window, ok, limited = Window(), 0, 0

    async def main() -> None:
        nonlocal ok, limited
        end = clock.now + minutes * 60
        while clock.now < end:
            await throttle.acquire(300, 200)
            verdict = window.admit(limits, 300, 200, clock.now)
            if isinstance(verdict, tuple):
                limited += 1
                throttle.pause(verdict[1])
                continue
            ok += 1
            verdict[2] = 20  # the server settles the answer's output at what it wrote
            if settle:
                throttle.settle_output(200, 20)
            if not throttle.learned:
                throttle.learn(window.headers(limits, clock.now))

    asyncio.run(main())
    return ok, limited


def test_output_tokens_are_paced_apart_and_settled_to_what_was_written() -> None:
    limits = Limits(rpm=10_000, input_tpm=10_000_000, output_tpm=6_000)
    clock = FakeClock()
    ok, limited = _simulate(Throttle(clock=clock, sleep=clock.sleep), clock, limits, 10, True)
    # 20 tokens written per answer: the limit allows 300 a minute; the pace reaches 0.95 of it.
    assert limited <= 1 and ok / 10 >= 0.95 * 6_000 / 20
    clock = FakeClock()
    held, limited = _simulate(Throttle(clock=clock, sleep=clock.sleep), clock, limits, 10, False)
    # Without settling, each request would hold its whole max_tokens: 30 a minute.
    assert limited <= 1 and held / 10 <= 1.1 * 6_000 / 200


def test_a_pause_holds_the_output_bucket_too() -> None:
    clock = FakeClock()
    throttle = Throttle(output_tpm=6_000, clock=clock, sleep=clock.sleep)
    throttle.pause(5.0)
    start = clock.now
    asyncio.run(throttle.acquire(10, 100))
    assert clock.now - start >= 5.0
