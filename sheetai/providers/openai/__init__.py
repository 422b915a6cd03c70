"""OpenAI, Azure OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp server).

Modules, one job each: ``client`` (endpoints, keys, SDK clients), ``connection`` (URL, timeouts,
concurrency and response mode of one endpoint), ``schema`` (the answer model built from the
parsed step), ``strict`` (its JSON schema for strict mode), ``prompt`` (messages), ``throttle``
(RPM/TPM pacing), ``runner`` (the async request loop and its workers), ``bridge`` (that loop's
thread), ``request`` (one request, retried), ``replies`` (reading failed replies), ``answers``
(completion -> row result), ``pricing``, ``batch`` (Batch API), ``provider`` (the
:class:`~sheetai.providers.base.Provider`).
"""

from .provider import BatchSubmission, OpenAIProvider

__all__ = ["OpenAIProvider", "BatchSubmission"]
