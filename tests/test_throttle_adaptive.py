"""Pacing without ``x-ratelimit-limit-*`` headers (Azure OpenAI, vLLM, proxies).

The unit tests drive a :class:`Throttle` on a fake clock against FakeOpenAI's own sliding-window
limiter, the way the runner calls it, so hours of traffic take milliseconds; the end-to-end tests
run real syncs through the real ``openai`` SDK against FakeOpenAI trimmed to Azure's headers, on
a compressed minute where a run must outlast one (server and throttle agree on its length).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devservers.openai import FakeOpenAI, SlidingWindow, default_answer
from sheetai.backends import open_backend
from sheetai.engine.sync import SyncOptions, sync
from sheetai.providers.llm import throttle as throttle_module
from sheetai.providers.llm.throttle import BACKOFF, RECOVERY, Throttle
from sheetai.settings import Settings
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

AZURE_KEY = "azure-test-secret-123"


class FakeClock:
    """A monotonic clock that only moves when the throttle sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Traffic:
    ok: int = 0
    limited: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return self.ok + self.limited

    def per_minute(self) -> float:
        return self.ok * 60 / self.seconds


def trim(headers: dict[str, str], kept: str) -> dict[str, str]:
    """The rate-limit headers a server of that kind sends (as FakeOpenAI's ``rate_headers``)."""
    if kept == "remaining":
        return {k: v for k, v in headers.items() if k.startswith("x-ratelimit-remaining-")}
    return headers if kept == "all" else {}


def drive(
    throttle: Throttle,
    clock: FakeClock,
    minutes: float,
    rpm: int | None = None,
    tpm: int | None = None,
    kept: str = "remaining",
    cost: int = 100,
    window_s: float = 60.0,
) -> Traffic:
    """Send requests of ``cost`` tokens back to back for ``minutes`` of fake time, calling
    ``learn`` and ``pause`` as the runner does, against a ``window_s`` sliding-window limiter."""
    window, traffic = SlidingWindow(window_s), Traffic()
    start = clock.now

    async def run() -> None:
        while clock.now < start + minutes * 60:
            await throttle.acquire(cost)
            verdict = window.admit(cost, rpm, tpm, clock.now)
            if verdict:
                traffic.limited += 1
                throttle.pause(verdict[1])  # the 429's retry-after
                continue
            traffic.ok += 1
            if not throttle.learned or traffic.requests % 200 == 0:
                throttle.learn(trim(window.headers(rpm, tpm, clock.now), kept))

    asyncio.run(run())
    traffic.seconds = clock.now - start
    return traffic


def new_throttle(
    rpm: int | None = None, tpm: int | None = None, minute_s: float | None = None
) -> tuple[Throttle, FakeClock]:
    clock = FakeClock()
    return Throttle(rpm, tpm, clock=clock, sleep=clock.sleep, minute_s=minute_s), clock


def compress_the_minute(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every throttle built from now on takes its limits as per ``seconds`` (give the server
    ``window_s=seconds``): a run of several minutes, with every ratio kept, in seconds."""
    monkeypatch.setattr(throttle_module, "WINDOW_S", seconds)


# -- limits inferred from x-ratelimit-remaining-* (Azure OpenAI)


def test_remaining_headers_alone_pace_the_run_to_the_limit_without_429s() -> None:
    throttle, clock = new_throttle()
    traffic = drive(throttle, clock, minutes=10, rpm=600)
    assert traffic.limited == 0
    assert traffic.per_minute() >= 0.95 * 600
    assert throttle.rpm == 600 and throttle.tpm is None
    assert not throttle.learned  # so the runner keeps passing every response's headers


def test_a_tokens_limit_is_inferred_too_and_binds_when_lower() -> None:
    throttle, clock = new_throttle()
    traffic = drive(throttle, clock, minutes=10, rpm=600, tpm=30_000, cost=100)
    assert traffic.limited == 0
    assert 0.95 * 300 <= traffic.per_minute() <= 300  # 30,000 TPM / 100 tokens a request
    assert (throttle.rpm, throttle.tpm) == (600, 30_000)


def test_a_limit_set_by_the_user_caps_the_inferred_one() -> None:
    throttle, clock = new_throttle(rpm=100)
    traffic = drive(throttle, clock, minutes=5, rpm=600)
    assert throttle.rpm == 100 and traffic.limited == 0
    assert traffic.per_minute() == pytest.approx(97, abs=2)


def test_a_server_counting_requests_over_10_s_is_paced_low_then_faster() -> None:
    # Azure checks RPM over 1-10 s windows: what remains then reflects 10 s, not a minute.
    throttle, clock = new_throttle()
    first = drive(throttle, clock, minutes=1, rpm=100, window_s=10.0)  # 600 per minute
    later = drive(throttle, clock, minutes=9, rpm=100, window_s=10.0)
    assert first.limited == later.limited == 0
    assert 100 <= first.per_minute() < later.per_minute() <= 600
    assert throttle.rpm is not None and throttle.rpm >= 0.7 * 600


@pytest.mark.parametrize("seconds", [60.0, 3.0, 0.5])
def test_a_compressed_minute_paces_at_the_same_share_of_the_limit(seconds) -> None:
    # What the end-to-end tests rely on: the minute's length changes no ratio of the pacing.
    throttle, clock = new_throttle(minute_s=seconds)
    traffic = drive(throttle, clock, minutes=10 * seconds / 60, rpm=600, window_s=seconds)
    assert traffic.limited == 0 and throttle.rpm == 600
    assert traffic.per_minute() * seconds / 60 == pytest.approx(0.97 * 600, rel=0.02)


def test_the_minute_is_the_window_the_throttle_was_built_with(monkeypatch) -> None:
    assert Throttle().minute_s == 60.0
    monkeypatch.setattr(throttle_module, "WINDOW_S", 2.0)
    assert Throttle().minute_s == 2.0 and Throttle(minute_s=5.0).minute_s == 5.0


@pytest.mark.parametrize("value", ["-1", "1000000000", "many"])
def test_remaining_values_that_say_nothing_are_ignored(value: str) -> None:
    # Azure's Responses API has answered -1; servers without limits report huge numbers.
    throttle, _ = new_throttle()
    throttle.learn({"x-ratelimit-remaining-requests": value})
    assert throttle.rpm is None and throttle.learned


def test_a_minute_used_up_by_someone_else_paces_at_the_floor_until_it_frees() -> None:
    throttle, _ = new_throttle()
    throttle.learn({"x-ratelimit-remaining-requests": "0"})  # another client took it all
    assert throttle.rpm == 1
    throttle.learn({"x-ratelimit-remaining-requests": "599"})
    assert throttle.rpm == 599


# -- servers that name their limits (OpenAI): as before


def test_named_limits_are_adopted_and_a_429_does_not_lower_them() -> None:
    throttle, clock = new_throttle()
    traffic = drive(throttle, clock, minutes=5, rpm=600, kept="all")
    assert throttle.learned and throttle.rpm == 600
    assert traffic.limited == 0 and traffic.per_minute() >= 0.95 * 600
    throttle.pause(2.0)
    assert throttle.rpm == 600


def test_a_429_before_the_first_answer_is_forgotten_once_the_server_names_its_limits() -> None:
    throttle, clock = new_throttle()

    async def send(n: int) -> None:
        for _ in range(n):
            await throttle.acquire(100)

    asyncio.run(send(10))
    throttle.pause(0.5)
    assert throttle.rpm is not None  # nothing named yet: the 429 lowered the pace
    throttle.learn(
        {"x-ratelimit-limit-requests": "1000000000", "x-ratelimit-remaining-requests": "5"}
    )
    assert throttle.rpm is None and throttle.learned  # unlimited, as the server says
    clock.now += 1
    throttle.pause(0.5)
    assert throttle.rpm is None


# -- servers that name nothing


def test_a_server_without_headers_or_limits_is_never_paced() -> None:
    throttle, clock = new_throttle()
    start = clock.now

    async def send() -> None:
        for _ in range(5000):
            await throttle.acquire(500)
            if not throttle.learned:
                throttle.learn({})

    asyncio.run(send())
    assert clock.now == start and throttle.waited_s == 0
    assert throttle.rpm is None and throttle.tpm is None and throttle.learned


def test_a_server_without_headers_but_with_a_limit_is_learned_from_its_429s() -> None:
    throttle, clock = new_throttle()
    traffic = drive(throttle, clock, minutes=20, rpm=600, kept="none")
    assert traffic.limited / traffic.requests < 0.01
    assert traffic.per_minute() >= 0.75 * 600


def test_one_burst_of_429s_lowers_the_pace_once_and_it_recovers() -> None:
    throttle, clock = new_throttle()

    async def send(n: int) -> None:
        for _ in range(n):
            await throttle.acquire(100)

    asyncio.run(send(100))
    throttle.pause(30.0)
    # 99 accepted, then nothing for 30 s: 99 per 30 s is 198 per minute
    assert throttle.rpm == round(BACKOFF * 198)
    for _ in range(4):  # the others in flight come back refused too: the same event
        throttle.pause(30.0)
    assert throttle.rpm == round(BACKOFF * 198)
    clock.now += 30 + 5 * 60
    asyncio.run(send(1))
    assert throttle.rpm == round(BACKOFF * 198 * (1 + RECOVERY * 5))
    asyncio.run(send(20))
    throttle.pause(1.0)  # a new event: lower again, to what the last minute took
    assert throttle.rpm == round(BACKOFF * 20)


def test_a_429_with_nothing_accepted_only_pauses() -> None:
    throttle, _ = new_throttle()

    async def send() -> None:
        await throttle.acquire(100)

    asyncio.run(send())
    throttle.pause(1.0)  # the first request refused: no rate to go by
    assert throttle.rpm is None


# -- end to end: the real SDK against FakeOpenAI with Azure's headers


def book(tmp_path: Path, count: int, model: str) -> Path:
    data = [["ID", "Review"], *[[i + 1, f"Positive review number {i}"] for i in range(count)]]
    return make_workbook(tmp_path / "b.xlsx", data, [sentiment_step(Model=model)])


def run_sync(path: Path, settings: Settings) -> Any:
    with open_backend(str(path), settings) as backend:
        return sync(backend, settings, SyncOptions())


def azure(server: FakeOpenAI) -> Settings:
    return Settings(azure_openai_endpoint=server.root_url, azure_openai_api_key=AZURE_KEY)


def stamped(stamps: list[float]):
    def answer(body: dict) -> dict | str:
        stamps.append(time.monotonic())
        return default_answer(body)

    return answer


def test_an_azure_like_run_is_paced_from_the_remaining_headers(tmp_path) -> None:
    stamps: list[float] = []
    with FakeOpenAI(
        rpm=1200, latency_ms=20, api_key=AZURE_KEY, rate_headers="remaining", answer=stamped(stamps)
    ) as server:
        path = book(tmp_path, 60, "azure:gpt-4o-mini")
        summary = run_sync(path, azure(server))
        statuses = server.responses_by_status
    step = summary.steps[0]
    assert step.processed == 60 and step.failed == 0 and step.rate_limited == 0
    assert statuses == {200: 60}
    rows = read_sheet(path)
    assert all(column(rows, "Sentiment")) and not any(column(rows, "Sentiment flag"))
    # 1200 RPM paced at 97 %: the 36 requests beyond the bucket's 24 take 36 / 19.4 = 1.86 s
    # at least, however fast the machine; unpaced, all 60 reach the server at once. (A floor:
    # a slow machine only spreads them more.)
    assert max(stamps) - min(stamps) >= 1.5


def test_an_unlimited_server_without_headers_is_not_paced(tmp_path) -> None:
    # No header names a limit and no 429 lowers the pace, so nothing but the concurrency holds
    # requests back: with answers this slow, the server sees most of the 64 workers at once.
    with FakeOpenAI(latency_ms=300, rate_headers="none") as server:
        path = book(tmp_path, 80, "gpt-4o-mini")
        settings = Settings(openai_base_url=server.base_url, openai_api_key="sk-test")
        summary = run_sync(path, settings)
        in_flight = server.max_in_flight
        statuses = server.responses_by_status
    assert summary.steps[0].processed == 80 and summary.steps[0].rate_limited == 0
    # A loopback server is asked once for llama.cpp's /props and /slots (404 here).
    assert {k: v for k, v in statuses.items() if k != 404} == {200: 80} and in_flight >= 32


@pytest.mark.slow
def test_an_azure_like_run_longer_than_its_minute_rarely_meets_a_429(tmp_path, monkeypatch) -> None:
    # The reviewer's case, smaller: more rows than the RPM, so an unpaced run hits the limit
    # (10 x 429 at least). The minute is 6 s here, the latency a tenth of 100 ms with it.
    compress_the_minute(monkeypatch, 6.0)
    with FakeOpenAI(
        rpm=120, window_s=6.0, latency_ms=10, api_key=AZURE_KEY, rate_headers="remaining"
    ) as srv:
        path = book(tmp_path, 130, "azure:gpt-4o-mini")
        summary = run_sync(path, azure(srv))
        statuses = srv.responses_by_status
    step = summary.steps[0]
    assert step.processed == 130 and step.failed == 0
    assert step.rate_limited <= 0.01 * step.requests
    assert statuses.get(200) == 130
    assert not any(column(read_sheet(path), "Sentiment flag"))
