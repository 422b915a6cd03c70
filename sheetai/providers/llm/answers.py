"""What every LLM provider does around its requests: the shared answer cache (rows answered
already, rows sharing one request, each new answer kept at once), the counters a run reports,
and the two ways a request loop stops.

Used by the OpenAI and the Anthropic providers alike, so a cached answer reads back the same
way whoever wrote it and ``take_stats()`` reports the same fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...cache import ResultCache
from ...settings import Settings
from ..base import RowInput, RowResult
from .rows import copy_result, from_cache, to_cache
from .schema import AnswerSpec

__all__ = ["Fatal", "Drained", "Split", "AnswerStore", "Counters", "stats_summary", "fan_out"]


@dataclass
class Counters:
    """What every vendor's run counts, for the run log and the ``--json`` summary."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    reasked: int = 0
    invalid: int = 0  # rows whose last answer still broke the schema (INVALID_OUTPUT)


class Fatal(Exception):
    """The whole step cannot go on (bad key, unknown model, no credit, no server)."""


class Drained(Exception):
    """The caller stopped: a request not yet sent is not sent."""


@dataclass
class Split:
    """Rows answered from the cache, and the others grouped by request (cache key, in order)."""

    cached: list[RowResult] = field(default_factory=list)
    todo: dict[str, list[RowInput]] = field(default_factory=dict)


class AnswerStore:
    """One provider's view of the shared :class:`~sheetai.cache.ResultCache` (opened lazily):
    under ``home``, or in the ``store`` database the settings name (shared by replicas)."""

    def __init__(self, where: Path | Settings) -> None:
        self.where = where
        self._cache: ResultCache | None = None

    @property
    def cache(self) -> ResultCache:
        if self._cache is None:
            where = self.where
            if isinstance(where, Settings):
                self._cache = ResultCache.for_settings(where)
            else:
                self._cache = ResultCache.in_home(where)
        return self._cache

    def split(self, rows: Sequence[RowInput], keys: dict[str, str], spec: AnswerSpec) -> Split:
        """``keys`` maps each row key to its cache key; identical requests are grouped."""
        known = self.cache.get_many(set(keys.values()))
        split = Split()
        for row in rows:
            found = known.get(keys[row.key])
            if found is not None:
                split.cached.append(from_cache(row.key, found, spec))
            else:
                split.todo.setdefault(keys[row.key], []).append(row)
        return split

    def keep(self, cache_key: str, result: RowResult) -> None:
        """Store an answer (only a good one) the moment it arrives."""
        if result.status == "ok":
            self.cache.put(cache_key, to_cache(result))

    def keep_many(self, results: Iterable[RowResult], keys: dict[str, str]) -> None:
        fresh = {keys[r.key]: to_cache(r) for r in results if r.status == "ok" and r.key in keys}
        if fresh:
            self.cache.put_many(fresh)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def fan_out(results: Iterable[RowResult], sharing: dict[str, list[str]]) -> Iterator[RowResult]:
    """Each result, then a copy for every other row that shared its request (first key -> all)."""
    for result in results:
        yield result
        for other in sharing.get(result.key, [])[1:]:
            yield copy_result(result, other)


def stats_summary(stats: Any) -> dict[str, Any]:
    """The counters ``take_stats()`` reports, from a provider's run statistics."""
    return {
        "requests": stats.requests,
        "retries": stats.retries,
        "rate_limited": stats.rate_limited,
        "reasked": stats.reasked,
        "invalid": stats.invalid,
        "response_format": stats.response_format,
    }
