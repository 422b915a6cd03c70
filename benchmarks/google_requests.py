"""Count the Google Sheets API requests of a sync of N rows (default 10,000).

Real gspread + google-auth talk over HTTP to the local Sheets v4 test server (the one the
tests use); the embedded model answers. Prints reads, writes and seconds for a first sync and a
no-change re-sync, against the budget: ~10 writes for 10,000 rows, at most 2 reads and no
write for a re-sync. Usage: python benchmarks/google_requests.py [--rows 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.sync_10k import CONFIG, make_rows  # noqa: E402
from devservers.sheets import FakeSheets, make_service_account  # noqa: E402
from sheetai import Settings, SyncOptions, sync  # noqa: E402
from sheetai.backends.google import GoogleSheetsBackend  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    rows = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(make_rows(args.rows))]]
    with FakeSheets() as server, tempfile.TemporaryDirectory() as folder:
        account = make_service_account(server)
        key_file = Path(folder) / "sa.json"
        key_file.write_text(json.dumps(account))
        sid = server.add_spreadsheet(
            "Bench", {"Feedback": rows, "sheetai": CONFIG}, share_with=[account["client_email"]]
        )
        settings = Settings(google_api_url=server.url, google_credentials=key_file)
        for label in ("first sync", "no-change re-sync"):
            server.reset_counters()
            started = time.perf_counter()
            with GoogleSheetsBackend(sid, settings) as backend:
                summary = sync(backend, settings, SyncOptions())
            seconds = time.perf_counter() - started
            print(
                f"{label:18} {summary.total('processed'):6} rows written  {seconds:7.1f} s  "
                f"reads {server.reads}  writes {server.writes}  {dict(server.calls)}"
            )


if __name__ == "__main__":
    main()
