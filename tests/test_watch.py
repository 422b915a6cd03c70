"""`sheetai watch`: a real workbook file, saved by another program (openpyxl), answered by the
embedded model within seconds; office lock files wait; its own writes never wake it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

from sheetai import Settings
from sheetai.engine.runlog import LOG_TAB
from sheetai.engine.sync import SyncOptions
from sheetai.watch import Watcher, WatchReport

from .conftest import (
    PATIENCE_S,
    REVIEWS,
    column,
    make_workbook,
    read_sheet,
    saved_answers,
    sentiment_step,
    wait_for_saved_answers,
)

SETTLE = 0.3
QUIET_LOOK = 2.5  # longer than a tick (1 s) and a settle: time enough to wake, if it would


class Watching:
    """A watcher on a thread, and what it reported."""

    def __init__(self, path: Path, home: Path) -> None:
        self.reports: list[WatchReport] = []
        self.stop = threading.Event()
        settings = Settings(home=home, watch_settle_seconds=SETTLE)
        self.watcher = Watcher(path, settings, SyncOptions(), self.reports.append, self.stop)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.watcher.run()
        except BaseException as exc:  # shown by the test, not lost in a thread
            self.error = exc

    def of(self, kind: str) -> list[WatchReport]:
        return [r for r in list(self.reports) if r.kind == kind]

    def wait(self, what: Callable[[], bool], timeout: float = PATIENCE_S) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert self.error is None, self.error
            assert self.thread.is_alive(), "the watcher stopped"
            assert time.monotonic() < deadline, f"timed out; reports: {self.reports}"
            time.sleep(0.05)

    def syncs(self, count: int) -> list[WatchReport]:
        self.wait(lambda: len(self.of("synced")) >= count)
        return self.of("synced")


@pytest.fixture
def book(tmp_path: Path) -> Path:
    data = [["ID", "Review"], *[[i + 1, text] for i, text in enumerate(REVIEWS[:3])]]
    return make_workbook(tmp_path / "feedback.xlsx", data, [sentiment_step()])


@pytest.fixture
def watching(book: Path, sheetai_home: Path) -> Iterator[Watching]:
    w = Watching(book, sheetai_home)
    w.thread.start()
    yield w
    w.stop.set()
    w.thread.join(30)
    assert not w.thread.is_alive() and w.error is None


def save_as_another_program(path: Path, *rows: list[object], note: str | None = None) -> None:
    """What Excel or a pipeline does: open, add rows or change a cell, save the whole file."""
    book = openpyxl.load_workbook(path)
    for row in rows:
        book["Feedback"].append(row)
    if note is not None:
        sheet = book["Notes"] if "Notes" in book.sheetnames else book.create_sheet("Notes")
        sheet["A1"] = note
    book.save(path)
    book.close()


def stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def test_saved_rows_are_answered_and_its_own_writes_do_not_wake_it(
    book: Path, watching: Watching
) -> None:
    [first] = watching.syncs(1)  # rows that were there before it started
    assert first.summary is not None and first.summary.total("processed") == 3
    time.sleep(QUIET_LOOK)
    assert len(watching.of("synced")) == 1  # its own write is not a save to sync

    save_as_another_program(book, [4, REVIEWS[3]], [5, REVIEWS[4]])
    second = watching.syncs(2)[1]
    assert second.summary is not None and second.summary.total("processed") == 2
    assert all(column(read_sheet(book), "Sentiment"))
    log = read_sheet(book, LOG_TAB)
    assert log[0][-1] == "Trigger" and [r[-1] for r in log[1:]] == ["watch", "watch"]
    time.sleep(QUIET_LOOK)
    assert len(watching.of("synced")) == 2


def test_a_save_that_changes_no_input_costs_nothing_and_rewrites_nothing(
    book: Path, watching: Watching
) -> None:
    watching.syncs(1)
    save_as_another_program(book, note="checked by Ann")
    saved = stamp(book)
    after = watching.syncs(2)[1]
    assert after.summary is not None
    assert after.summary.total("planned") == 0 and after.summary.total("processed") == 0
    assert after.summary.total("cost_usd") == 0
    assert stamp(book) == saved  # nothing written: the file is as the other program left it
    os.utime(book)  # touched, not changed: not even read
    time.sleep(QUIET_LOOK)
    assert len(watching.of("synced")) == 2


def test_it_waits_while_the_file_is_open_and_syncs_when_it_is_closed(
    book: Path, watching: Watching
) -> None:
    watching.syncs(1)
    lock = book.with_name(f"~${book.name}")  # Excel opened it
    lock.write_bytes(b"\x04Ann")
    save_as_another_program(book, [4, REVIEWS[3]])
    watching.wait(lambda: bool(watching.of("waiting")))
    assert "open in another program" in watching.of("waiting")[0].message
    time.sleep(QUIET_LOOK)
    assert len(watching.of("synced")) == 1
    assert column(read_sheet(book), "Sentiment")[-1] is None

    lock.unlink()  # Excel closed it
    second = watching.syncs(2)[1]
    assert second.summary is not None and second.summary.total("processed") == 1
    assert column(read_sheet(book), "Sentiment")[-1]


def test_a_libreoffice_lock_waits_too(book: Path, watching: Watching) -> None:
    watching.syncs(1)
    lock = book.with_name(f".~lock.{book.name}#")
    lock.write_text("Ann,host,...")
    save_as_another_program(book, [4, REVIEWS[3]])
    watching.wait(lambda: bool(watching.of("waiting")))
    lock.unlink()
    assert watching.syncs(2)[1].summary.total("processed") == 1  # type: ignore[union-attr]


def test_the_command_prints_a_json_line_per_sync_and_stops_cleanly_on_sigterm(
    book: Path, sheetai_home: Path
) -> None:
    env = {**os.environ, "SHEETAI_WATCH_SETTLE_SECONDS": str(SETTLE)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sheetai", "watch", str(book), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line["trigger"] == "watch" and line["processed"] == 3 and line["failed"] == 0
        assert line["cost_usd"] == 0 and line["status"] == "done" and "at" in line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped watching." in err and out == ""
    assert all(column(read_sheet(book), "Sentiment"))


def test_the_command_refuses_what_it_cannot_watch(tmp_path: Path) -> None:
    for target, expected in [
        (str(tmp_path / "missing.xlsx"), "no such file"),
        ("https://docs.google.com/spreadsheets/d/" + "a" * 44 + "/edit", "Sync automatically"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "sheetai", "watch", target],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2
        assert expected in " ".join(done.stderr.split())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_during_a_sync_stops_between_chunks_losing_nothing(tmp_path: Path) -> None:
    rows = 120  # several chunks: the sync is still going when its first chunk is in the file
    data = [["ID", "Review"], *[[i + 1, f"Order {i}: {REVIEWS[i % 8]}"] for i in range(rows)]]
    book = make_workbook(tmp_path / "big.xlsx", data, [sentiment_step(Examples="")])
    env = {**os.environ, "SHEETAI_CHUNK_ROWS": "20", "SHEETAI_CHUNK_SECONDS": "0.3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sheetai", "watch", str(book), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        wait_for_saved_answers(book, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=PATIENCE_S)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    line = json.loads(out.splitlines()[-1])
    assert line["status"] == "interrupted" and line["trigger"] == "watch"
    assert 0 < saved_answers(book) < rows
    assert saved_answers(book) >= line["processed"]  # every row it answered is in the file
