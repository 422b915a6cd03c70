"""The output slots of a step: value(s), reasoning, confidence and flag, in the order written.

One shape serves three things that used to be positional lists: the headers of a step's
output columns, their sheet column numbers (:class:`~sheetai.engine.columns.StepColumns`) and
what one row holds in them (:class:`RowOutputs`). On disk (the state tab) and on the sheet the
slots are a flat list, flag last; :meth:`RowOutputs.from_cells` and :meth:`OutputSlots.all`
convert at that edge only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["OutputSlots", "RowOutputs"]

T = TypeVar("T")


@dataclass
class OutputSlots(Generic[T]):
    """One ``T`` per output column of a step: one value, or one per extracted field."""

    values: list[T]
    reasoning: T
    confidence: T
    flag: T

    @property
    def all(self) -> list[T]:
        """Every slot in the order the columns are written, flag last."""
        return [*self.values, self.reasoning, self.confidence, self.flag]

    @property
    def owned(self) -> list[T]:
        """The slots whose content tells whether a person has edited the row (not the flag)."""
        return [*self.values, self.reasoning, self.confidence]


@dataclass
class RowOutputs(OutputSlots[Any]):
    """What sheetai wrote (or will write) in one row's output cells.

    >>> out = RowOutputs.from_cells(["Pos", "why", 0.9, None])
    >>> out.values, out.flag, out.all
    (['Pos'], None, ['Pos', 'why', 0.9, None])
    """

    @classmethod
    def from_cells(cls, cells: Sequence[Any]) -> RowOutputs:
        """Read the flat list a state record keeps, flag last.

        A damaged list shorter than the three trailing slots is padded in front, so its flag
        and reasoning stay where they were read.

        >>> RowOutputs.from_cells(["ERROR: x"])
        RowOutputs(values=[], reasoning=None, confidence=None, flag='ERROR: x')
        """
        if len(cells) < 3:
            cells = [None] * (3 - len(cells)) + list(cells)
        # Runs once per state row (100k on a big sheet): no copy of the whole list.
        return cls(list(cells[:-3]), cells[-3], cells[-2], cells[-1])

    @property
    def answer(self) -> Any:
        """The lone value, or the list of extracted fields (as ``--preview`` shows it)."""
        return self.values[0] if len(self.values) == 1 else list(self.values)
