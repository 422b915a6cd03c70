"""A local Anthropic API (Messages and Message Batches) that the real ``anthropic`` SDK talks to.

:mod:`.model` decides what each message gets (limits, faults, usage with cache tokens, counters),
:mod:`.limits` the three per-minute limits and their headers, :mod:`.batches` Message Batches,
:mod:`.app` the HTTP routes and :mod:`.server` runs it in a thread or a process.
"""

from .model import MARKERS, FakeClaudeModel
from .server import FakeClaude, start_subprocess

__all__ = ["MARKERS", "FakeClaude", "FakeClaudeModel", "start_subprocess"]
