"""A local OpenAI-compatible server that the real ``openai`` SDK talks to over HTTP.

:mod:`.model` decides what each request gets (options, faults, counters), :mod:`.answers`
what the fake model says, :mod:`.limits` the rate limits, :mod:`.batches` Files and Batches,
:mod:`.app` the HTTP routes and :mod:`.server` runs it all in a thread or a process.
"""

from .answers import default_answer, fill_schema
from .limits import SlidingWindow
from .model import FakeModel, Reply
from .server import FakeOpenAI, start_subprocess

__all__ = [
    "FakeModel",
    "FakeOpenAI",
    "Reply",
    "SlidingWindow",
    "default_answer",
    "fill_schema",
    "start_subprocess",
]
