"""A local Gemini API server that the real ``google-genai`` SDK talks to over HTTP.

:mod:`.model` decides what each request gets (faults, usage, counters, batches), :mod:`.app`
holds the HTTP routes in the Gemini API's REST shapes, :mod:`.server` runs it in a thread.
"""

from .model import FakeGeminiModel
from .server import FakeGemini

__all__ = ["FakeGemini", "FakeGeminiModel"]
