"""Few-shot examples for a model that learns in its prompt: chosen from the labelled rows.

Every label first (so none is forgotten), within each label the rows the sheet answered wrong
first (what the model most needs to be told), then the rest in sheet order; capped by count and
by tokens (``SHEETAI_FEWSHOT_MAX_EXAMPLES`` / ``SHEETAI_FEWSHOT_MAX_TOKENS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..steps import Example, Step
from ..text import norm_header

__all__ = ["choose_examples", "example_tokens"]


def example_tokens(example: Example) -> int:
    """Rough tokens of one example in the prompt (text, label and the ``<row>`` fence).

    >>> example_tokens(Example(text="x" * 40, label="Positive"))
    16
    """
    return (len(example.text) + len(example.label) + 16) // 4


def choose_examples(
    step: Step,
    training: Sequence[Example],
    answers: Mapping[str, str],
    *,
    max_examples: int,
    max_tokens: int,
) -> list[Example]:
    """At most ``max_examples`` of ``training`` (``max_tokens`` in all), covering every label.

    ``answers`` holds what the sheet answered for a text; a row whose answer differs from its
    label is a corrected mistake and comes first within its label. Labels take turns (in the
    step's order), so each gets an example before any gets a second.

    >>> from sheetai.steps import Label, Step, Task
    >>> step = Step(name="s", sheet="S", inputs=["x"], task=Task.CLASSIFY, output="o",
    ...             model="m", labels=[Label(name="A"), Label(name="B")])
    >>> rows = [Example(text=t, label=lab) for t, lab in [("a1", "A"), ("a2", "A"), ("b1", "B")]]
    >>> [e.text for e in choose_examples(step, rows, {"a2": "B"}, max_examples=2,
    ...                                  max_tokens=100)]
    ['a2', 'b1']
    """
    queues: dict[str, list[Example]] = {norm_header(n): [] for n in step.label_names}
    for example in training:
        queue = queues.get(norm_header(example.label))
        if queue is not None and example.text.strip():
            queue.append(example)
    for key, queue in queues.items():
        queue.sort(key=lambda e: norm_header(answers.get(e.text, "")) in ("", key))  # stable
    chosen: list[Example] = []
    tokens = 0
    while len(chosen) < max_examples and any(queues.values()):
        for queue in queues.values():
            if not queue or len(chosen) >= max_examples:
                continue
            example = queue.pop(0)
            cost = example_tokens(example)
            if tokens + cost <= max_tokens:
                chosen.append(example)
                tokens += cost
    return chosen
