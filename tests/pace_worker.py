"""One replica's sender for tests/test_store_pace.py: ``threads`` threads send chat requests to
an OpenAI-compatible server for ``seconds``, each first taking its turn from the shared pace.

Run as ``python -m tests.pace_worker <store url> <server url> <rpm> <minute_s> <seconds>``;
prints ``{"sent": n, "limited": n}``.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx

from sheetai.stores.pace import SharedPace, key_id
from sheetai.stores.postgres import PostgresStore


def main() -> None:
    url, server, rpm, minute_s, seconds = sys.argv[1:6]
    pace = SharedPace(PostgresStore(url), minute_s=float(minute_s))
    key = key_id("sk-test", server)
    counts = {"sent": 0, "limited": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + float(seconds)
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}

    def send() -> None:
        with httpx.Client(base_url=server, timeout=30) as client:
            while time.monotonic() < deadline:
                wait = pace.acquire(key, 1, rpm=float(rpm), tpm=None)
                if wait > 0:
                    time.sleep(wait)
                    continue
                status = client.post("/chat/completions", json=body).status_code
                with lock:
                    counts["sent"] += 1
                    counts["limited"] += status == 429

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
