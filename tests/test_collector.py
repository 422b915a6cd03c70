"""The collector pause and freeze around a sync: main thread only for the freeze."""

from __future__ import annotations

import gc
import threading

from sheetai.collector import collector_paused, freezing


def test_a_pause_inside_a_pause_leaves_the_collector_running_after_the_outer_one() -> None:
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_main_thread_freezes_and_thaws_what_it_froze() -> None:
    kept = [object() for _ in range(100)]
    before = gc.get_freeze_count()
    with freezing() as freeze:
        freeze()
        assert gc.get_freeze_count() >= before + len(kept)
    assert gc.get_freeze_count() == 0


def test_a_job_thread_neither_freezes_nor_thaws() -> None:
    seen: list[int] = []

    def job() -> None:
        with freezing() as freeze:
            freeze()
            seen.append(gc.get_freeze_count())

    gc.freeze()  # as a host application may have done
    try:
        frozen = gc.get_freeze_count()
        thread = threading.Thread(target=job)
        thread.start()
        thread.join()
        assert seen == [frozen]
        assert gc.get_freeze_count() == frozen  # the host's freeze is left alone
    finally:
        gc.unfreeze()
