"""The one back-off policy: waits grow, stay under their caps, and follow the server's word."""

from __future__ import annotations

import requests.structures
from hypothesis import given
from hypothesis import strategies as st

from sheetai.backends.google_http import BACKOFF as SHEETS
from sheetai.backoff import Backoff, retry_after
from sheetai.providers.openai.replies import BACKOFF as OPENAI

unit = st.floats(min_value=0.0, max_value=0.999)


@given(attempt=st.integers(min_value=0, max_value=10_000), jitter=unit)
def test_a_wait_is_never_instant_and_never_over_the_cap(attempt: int, jitter: float) -> None:
    for policy in (SHEETS, OPENAI):
        wait = Backoff(policy.base, policy.cap, policy.max_wait, lambda: jitter).delay(attempt)
        assert policy.base / 2 <= wait <= policy.cap


@given(told=st.floats(min_value=0.0, max_value=1e9), jitter=unit)
def test_the_servers_retry_after_is_honoured_up_to_max_wait(told: float, jitter: float) -> None:
    policy = Backoff(base=1.0, cap=32.0, max_wait=60.0, jitter=lambda: jitter)
    wait = policy.delay(3, told)
    assert min(told, 60.0) <= wait <= min(told * 1.1, 60.0)


def test_retry_after_reads_either_header_whatever_its_case() -> None:
    headers = requests.structures.CaseInsensitiveDict({"Retry-After": "7"})
    assert retry_after(headers) == 7.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({}) is None
