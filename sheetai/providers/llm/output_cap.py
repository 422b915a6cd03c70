"""How many output tokens to allow an answer: as few as the answers of this run need.

A server that limits tokens per minute counts a request's cap (``max_tokens``) against the
limit when the request starts, whatever the answer then uses: a classify request capped at 300
tokens that writes 60 holds five times the tokens it needs, and a run bound by tokens goes at a
fifth of the pace it could. :class:`OutputCap` starts from what the step's answer schema needs
(its labels, fields and score, and a sentence of reasoning), then follows the answers of the
run from the first few on, never below what the schema needs and never above the task's ceiling.

The cap aims at cutting off ``CUT_RATE`` of the answers (2 in 1,000), read from the tail of the
answers seen (peaks over a threshold): of ``n`` answers, the longest ``phi = 10 / n`` of them
(at least 1 %, at most half) lie above a threshold ``q``; past it a tail falls off about
exponentially at the scale of their mean excess over ``q``, so the cap is ``q + scale x
ln(phi / CUT_RATE)``, at least ``MIN_HEADROOM`` over ``q``. Answers that barely vary (as
classify answers often do) then get a cap a couple of tokens over the longest, and answers
with a long tail room in proportion. A few answers that happen to be alike say little of the
spread, so the scale is at least ``PRIOR`` of the longest over ``sqrt(n)``. An answer cut off
by the cap is asked again once at the ceiling (:meth:`OutputCap.retry`, counted in
:attr:`OutputCap.cut_offs`), so a tight cap costs one request now and then, never a row; its
full length then widens the cap at once.

A cap the user sets (``SHEETAI_OPENAI_MAX_OUTPUT_TOKENS``) is used as it is.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable

from ...steps import Task
from .schema import AnswerSpec

__all__ = ["OutputCap", "schema_tokens", "tail_cap"]

# Answers observed before the cap follows them (the first wave of a run); until then it is
# the schema's start value.
MIN_SAMPLES = 8
SAMPLES = 1000  # the last answers the cap follows
EVERY = 8  # answers between two sizings (and at once when one reaches the cap)
CUT_RATE = 0.002  # answers cut off per answer that the cap aims at
TAIL = 10  # answers the tail's scale is read from (phi = TAIL / n of them) ...
MIN_TAIL, MAX_TAIL = 0.01, 0.5  # ... as a share of the answers, within these bounds
PRIOR = 0.2  # the tail's scale is at least this share of the longest answer / sqrt(n)
MIN_HEADROOM = 2  # tokens over the threshold always (a tokenizer's count varies a little)
# Tokens of "reasoning" (one or two sentences): before any answer is seen, and at the least.
START_REASONING = 100
MIN_REASONING = 16


def schema_tokens(spec: AnswerSpec) -> int:
    """Output tokens of an answer to ``spec`` without its reasoning: its JSON keys and
    punctuation and its longest value.

    Tokens are counted as characters / 3, a little generous for JSON.

    >>> from sheetai.steps import Step
    >>> from sheetai.config import parse_labels
    >>> from sheetai.providers.llm.schema import answer_spec
    >>> step = Step(name="s", sheet="S", inputs=["A"], task=Task.CLASSIFY, instructions="",
    ...     labels=parse_labels("Positive\\nNegative"), labels_text="", output="O", model="m")
    >>> schema_tokens(answer_spec(step))
    18
    """
    task = spec.step.task
    if task is Task.GENERATE:
        return 200  # free text: no schema to go by
    if task is Task.CLASSIFY:
        longest = max(len(name) for name in spec.step.label_names)
        body = len('{"reasoning":"","label":"","confidence":0.95}') + longest
    elif task is Task.SCORE:
        scores = spec.score_range
        width = max(len(f"{v:g}") for v in (scores.low, scores.high)) if scores else 1
        body = len('{"reasoning":"","score":}') + width + (3 if scores and scores.decimals else 0)
    else:
        body = len('{"reasoning":""}')
        for field in spec.fields:
            value = {"choice": max((len(c) for c in field.choices), default=8), "text": 60}
            body += len(f'"{field.name}":,') + value.get(field.type, 12)
    return math.ceil(body / 3)


def tail_cap(answers: Iterable[int]) -> int:
    """The cap that cuts off about ``CUT_RATE`` of answers like ``answers`` (their tokens).

    >>> tail_cap([31, 32] * 250)  # alike: a couple of tokens over the longest
    34
    >>> tail_cap([31, 32] * 4)  # alike, but only 8 of them
    45
    >>> tail_cap([30] * 90 + list(range(31, 41)))  # a tail: room in proportion to it
    51
    """
    ordered = sorted(answers)
    seen = len(ordered)
    share = min(MAX_TAIL, max(TAIL / seen, MIN_TAIL))
    threshold = ordered[min(seen - 1, int((1 - share) * seen))]
    above = [used - threshold for used in ordered if used > threshold]
    excess = sum(above) / len(above) if above else 0.0
    scale = max(excess, PRIOR * ordered[-1] / math.sqrt(seen))
    return threshold + max(MIN_HEADROOM, math.ceil(scale * math.log(share / CUT_RATE)))


class OutputCap:
    """The ``max_tokens`` of a step's requests in one run (thread-safe).

    Args:
        spec: the step's answer schema.
        ceiling: the most an answer may take (the task's fixed cap): the cap never goes above
            it, and a cut-off answer is asked again with it.
        fixed: a cap set by the user; then the cap never moves and nothing is asked again.
        extra: tokens added to every cap (a reasoning model's room to think); its thinking
            varies far more than answers do, so its cap stays at the ceiling.
    """

    def __init__(
        self, spec: AnswerSpec, ceiling: int, fixed: int | None = None, extra: int = 0
    ) -> None:
        self.fixed = fixed
        self.extra = extra
        self.ceiling = ceiling
        needs = schema_tokens(spec)
        self.floor = min(needs + MIN_REASONING, ceiling)
        self._used: deque[int] = deque(maxlen=SAMPLES)
        # Free text (generate) has no schema to go by: it starts at the ceiling, then follows.
        free = extra or spec.step.task is Task.GENERATE
        self._current = ceiling if free else min(needs + START_REASONING, ceiling)
        self._lock = threading.Lock()
        self.cut_offs = 0  # answers cut off at the cap (each asked again unless fixed)
        self._seen = 0

    @property
    def current(self) -> int:
        """The cap to send now."""
        if self.fixed:
            return self.fixed
        return self._current + self.extra

    @property
    def learning(self) -> bool:
        """The cap will follow the answers, but fewer than ``MIN_SAMPLES`` are in yet."""
        return not (self.fixed or self.extra) and self._seen < MIN_SAMPLES

    def retry(self, sent: int) -> int | None:
        """The cap to ask again with after an answer was cut off at ``sent``; None: do not (a
        cap the user set, or the ceiling: the flag then names the setting to raise)."""
        top = self.ceiling + self.extra
        return top if not self.fixed and sent < top else None

    def observe(self, used: int, cut_off: bool = False) -> None:
        """Count an answer's output tokens; one ``cut_off`` at the cap says only that it needed
        more (its length is learnt when it is asked again)."""
        with self._lock:
            self.cut_offs += cut_off
            if self.fixed or self.extra:
                return
            if cut_off:
                if len(self._used) < MIN_SAMPLES:
                    self._current = self.ceiling  # the start value was too tight: room first
                return
            self._used.append(used)
            self._seen += 1  # the window stops growing at SAMPLES: count apart
            if self._seen >= MIN_SAMPLES and (self._seen % EVERY == 0 or used >= self._current):
                self._current = max(self.floor, min(self.ceiling, tail_cap(self._used)))
