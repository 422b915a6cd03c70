# ruff: noqa: F811  (the PostgreSQL fixtures are imported from tests/postgres.py)
"""Three replicas' OpenAI throttles share one key's pace through the store: together they stay
under the server's limit (< 1 % 429s) and near it. The minute is compressed to 3 s."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from devservers.openai import FakeOpenAI
from sheetai import Settings
from sheetai.classify import ClassifyItem, classify_items
from sheetai.providers.llm import throttle
from sheetai.stores import pace

from .postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MINUTE_S, RPM, PER_REPLICA = 3.0, 120, 50  # 40 requests/s for the key


def test_three_replicas_sharing_a_key_stay_under_its_limit(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "WINDOW_S", MINUTE_S)
    monkeypatch.setattr(pace, "MINUTE_S", MINUTE_S)
    arrivals: list[float] = []

    async def arrived(method: str, path: str) -> None:
        if "chat" in path:
            arrivals.append(time.monotonic())

    with FakeOpenAI(rpm=RPM, window_s=MINUTE_S, on_request=arrived) as server:
        settings = [
            Settings(
                home=tmp_path / f"replica{i}",
                store=postgres_url,
                openai_base_url=server.base_url,
                openai_api_key="sk-shared",
                openai_rpm=RPM,
                openai_max_retries=8,
            )  # fmt: skip
            for i in range(3)
        ]
        done: list[int] = []

        def replica(i: int) -> None:
            items = [
                ClassifyItem(text=f"replica {i} review {n}", labels=["Positive", "Negative"],
                             model="gpt-4.1-mini")
                for n in range(PER_REPLICA)
            ]  # fmt: skip
            results = classify_items(items, settings[i])
            done.append(sum(r.error is None for r in results))

        threads = [threading.Thread(target=replica, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = sum(n for path, n in server.requests_by_path.items() if "chat" in path)
        limited = server.rate_limited
    assert done == [PER_REPLICA] * 3
    assert limited <= 0.01 * sent, (limited, sent)
    # Near the ceiling (40 requests/s) while all three send, as the server counts arrivals.
    rate = (len(arrivals) - 1) / (max(arrivals) - min(arrivals))
    assert rate >= 0.9 * RPM / MINUTE_S, rate
