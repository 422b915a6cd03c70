"""What every LLM vendor's provider shares, whatever its protocol.

``schema`` (the answer model built from the parsed step), ``strict`` (its closed JSON schema),
``prompt`` (instructions, labels and examples; the row fenced off as data), ``bridge`` (an
asyncio loop in a worker thread feeding the engine's thread), ``throttle`` (requests- and
tokens-per-minute pacing; Anthropic's output tokens in a bucket of their own), ``output_cap``
(max_tokens as tight as a run's answers allow), ``answers`` (the shared answer cache around a
provider's requests, ``take_stats()`` fields) and ``rows`` (what a cached answer holds). Nothing
here imports a vendor's SDK, so a provider for one vendor never loads another's.
"""
