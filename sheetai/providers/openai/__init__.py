"""OpenAI, Azure OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp server).

Modules, one job each: ``client`` (endpoints, keys, SDK clients), ``connection`` (URL, timeouts,
concurrency and response mode of one endpoint), ``runner`` (the async request loop and its
workers), ``request`` (one request, retried), ``replies`` (reading failed replies), ``answers``
(completion -> row result), ``pricing``, ``stats`` (a run's counters), ``batch`` (Batch API),
``provider`` (the :class:`~sheetai.providers.base.Provider`, the SDK loaded only to send). The
schema, prompt, output cap, pacing and loop thread are shared by every vendor:
:mod:`sheetai.providers.llm`.
"""

from .provider import BatchSubmission, OpenAIProvider

__all__ = ["OpenAIProvider", "BatchSubmission"]
