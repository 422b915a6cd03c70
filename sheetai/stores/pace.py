"""One pace per API key across replicas: shared token buckets of requests and tokens per minute.

Each replica paces its own requests (``providers/llm/throttle.py``), which keeps *one* process
under a key's limit; N replicas sharing the key would send N times too much. Here the key's
budget lives in the store, one row per (key, kind): a token bucket refilled at ``headroom`` of
the limit and holding at most ``burst`` of a minute's allowance (half the local throttle's: the
slices replicas hold take the rest of the margin). A replica takes a *slice* of it at a time
(about ``slice_s`` seconds of the rate) under a row lock and spends the slice locally, so the
database sees a few statements per second per replica, not one per request. Whatever the
replicas hold, they were granted by the bucket, so together they send at most what it refills
plus what they hold.

Keys are named by :func:`key_id`, a hash: the key itself never reaches the database.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from ..settings import Settings
from .base import Store, StoreUnavailable
from .open import open_store, store_url

__all__ = ["SharedPace", "key_id", "shared_pace"]

log = logging.getLogger("sheetai.pace")

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS pace (key_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " level DOUBLE PRECISION NOT NULL, stamp DOUBLE PRECISION NOT NULL,"
    " PRIMARY KEY (key_id, kind))"
]
MINUTE_S = 60.0  # the period of a per-minute limit (read when a store's pace is first made)
_RETRY_S = 5.0  # without the database, pace locally for this long before asking again


def key_id(api_key: str, endpoint: str = "") -> str:
    """A stable name for an API key (and the endpoint it is for) that does not reveal it.

    >>> key_id("sk-abc", "https://api.openai.com/v1") == key_id("sk-abc", "https://api.openai.com/v1")
    True
    >>> "sk-abc" in key_id("sk-abc")
    False
    """
    return hashlib.sha256(f"{endpoint}\n{api_key}".encode()).hexdigest()[:32]


class SharedPace:
    """Requests and tokens per minute of each key, shared by every replica on the store.

    Args:
        store: the replicas' store (PostgreSQL; SQLite shares between one machine's processes).
        slice_s: seconds of a key's rate a replica takes at once.
        headroom: the fraction of the limit the bucket refills at.
        burst: the fraction of a minute's allowance the bucket holds.
        minute_s: the period limits are per (tests compress it).
    """

    def __init__(
        self,
        store: Store,
        slice_s: float = 0.1,
        headroom: float = 0.97,
        burst: float = 0.01,
        minute_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.slice_s, self.headroom, self.burst, self.minute_s = slice_s, headroom, burst, minute_s
        self.clock = clock
        self._held: dict[tuple[str, str], float] = {}  # granted to this replica, not yet spent
        self._lock = threading.Lock()
        self._offline_until = 0.0
        store.ensure_schema(_SCHEMA)

    def acquire(
        self, key: str, requests: int = 1, tokens: int = 0, *, rpm: float | None, tpm: float | None
    ) -> float:
        """Take ``requests`` and ``tokens`` from ``key``'s budget: 0.0 when taken, else the
        seconds to wait before asking again (nothing taken). A limit of None is not paced.

        Without the database the answer is 0.0 (each replica's own throttle still paces).
        """
        wanted = {
            kind: (float(amount), float(limit))
            for kind, amount, limit in (("requests", requests, rpm), ("tokens", tokens, tpm))
            if limit and amount > 0
        }
        with self._lock:
            short = {
                kind: amount - self._held.get((key, kind), 0.0)
                for kind, (amount, _) in wanted.items()
                if self._held.get((key, kind), 0.0) < amount
            }
            if short:
                if self.clock() < self._offline_until:
                    return 0.0
                try:
                    wait = self._take(key, short, {k: v[1] for k, v in wanted.items()})
                except StoreUnavailable as error:
                    self._offline_until = self.clock() + _RETRY_S
                    log.warning(
                        "shared pace unavailable; pacing alone", extra={"error": str(error)}
                    )
                    return 0.0
                if wait > 0:
                    return wait
            for kind, (amount, _) in wanted.items():
                self._held[(key, kind)] = self._held.get((key, kind), 0.0) - amount
            return 0.0

    def _take(self, key: str, short: dict[str, float], limits: dict[str, float]) -> float:
        """Move slices from the shared buckets to ``_held``; the wait if one is too low."""
        now = self.clock()
        with self.store.transaction(lock=self.store.embedded) as tx:
            for kind in short:
                tx.execute(
                    "INSERT INTO pace (key_id, kind, level, stamp) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (key, kind, self._capacity(limits[kind]), now),
                )
            marks = ",".join("?" * len(short))
            rows = tx.execute(
                f"SELECT kind, level, stamp FROM pace WHERE key_id = ? AND kind IN ({marks})"
                f" ORDER BY kind{self.store.for_update}",
                (key, *short),
            )
            wait, takes = 0.0, {}
            for kind, level, stamp in rows:
                rate = limits[kind] * self.headroom / self.minute_s
                capacity = self._capacity(limits[kind])
                level = min(capacity, float(level) + max(0.0, now - float(stamp)) * rate)
                need = short[kind]
                if level < min(need, capacity):  # an oversized request waits for a full bucket
                    wait = max(wait, (min(need, capacity) - level) / rate)
                    continue
                takes[kind] = (level, max(need, min(level, rate * self.slice_s)))
            if wait > 0:
                return wait
            for kind, (level, take) in takes.items():
                tx.execute(
                    "UPDATE pace SET level = ?, stamp = ? WHERE key_id = ? AND kind = ?",
                    (level - take, now, key, kind),
                )
        for kind, (_, take) in takes.items():
            self._held[(key, kind)] = self._held.get((key, kind), 0.0) + take
        return 0.0

    def _capacity(self, per_minute: float) -> float:
        return max(1.0, per_minute * self.burst)


_paces: dict[str, SharedPace] = {}
_paces_lock = threading.Lock()


def shared_pace(
    settings: Settings, api_key: str | None, endpoint: str
) -> Callable[[int, int | None, int | None], float] | None:
    """The pace a provider's throttle shares for one key, when replicas share a PostgreSQL
    store (``settings.store``); None otherwise (a lone process paces alone)."""
    url = store_url(settings)
    if url is None or not api_key:
        return None
    with _paces_lock:
        pace = _paces.get(url)
        if pace is None:
            pace = _paces[url] = SharedPace(open_store(settings, "pace"), minute_s=MINUTE_S)
    key = key_id(api_key, endpoint)

    def take(tokens: int, rpm: int | None, tpm: int | None) -> float:
        return pace.acquire(key, 1, tokens, rpm=rpm, tpm=tpm)

    return take
