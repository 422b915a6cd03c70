"""The read stage: one workbook model and loader for the sync, quality control and the service.

:func:`load_workbook` reads the sheet titles, finds the config tab, reads every sheet once and
parses the config; :func:`select_steps` picks the steps a command works on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..backends.base import Backend, Grid
from ..config import parse_config
from ..errors import ConfigError
from ..settings import Settings
from ..state import STATE_TAB
from ..steps import Step
from ..text import did_you_mean, norm_header

__all__ = [
    "Workbook",
    "load_workbook",
    "find_config_tab",
    "select_steps",
    "apply_model",
    "run_step",
]


@dataclass
class Workbook:
    """The config's steps and every sheet's values, read in one call.

    ``grids`` and ``titles`` are the run's picture of the workbook: the sync keeps them up to
    date as it writes (new columns, answers, the state and log tabs).
    """

    steps: list[Step]
    grids: dict[str, Grid]
    titles: list[str]

    def grid(self, sheet: str) -> Grid:
        """The sheet's grid, created empty (one blank header row) if the sheet has no cells."""
        grid = self.grids.setdefault(sheet, [[]])
        if not grid:
            grid.append([])
        return grid


def find_config_tab(titles: Sequence[str], name: str, location: str) -> str:
    """The workbook's config tab, matched case- and space-insensitively."""
    for title in titles:
        if norm_header(title) == norm_header(name):
            return title
    raise ConfigError(
        f"{location}: the workbook has no '{name}' tab{did_you_mean(name, titles)}. "
        "Add a tab with one row per step, or create one with `sheetai init`."
    )


def load_workbook(backend: Backend, settings: Settings) -> Workbook:
    """Read every sheet once and parse the config tab (errors name the cell)."""
    titles = backend.sheet_titles()
    tab = find_config_tab(titles, settings.config_tab, backend.location)
    grids = backend.read(titles)
    headers = {t: (g[0] if g else []) for t, g in grids.items() if t != STATE_TAB}
    steps = parse_config(
        grids.get(tab, []),
        headers,
        tab=tab,
        default_model=settings.default_model,
        sheet_rows=grids,
    )
    return Workbook(steps, grids, titles)


def apply_model(steps: list[Step], model: str | None, only_flagged: bool) -> list[Step]:
    """The steps with ``--model`` applied (in place): as their model, or with ``--only-flagged``
    as the model that answers this run for them."""
    for step in steps:
        if model and only_flagged:
            # The cascade: a stronger model answers the flagged rows *for* the configured
            # step, so its answers count as the step's and a plain run keeps them.
            step.run_model = model
        elif model:
            step.model = model
    return steps


def select_steps(steps: list[Step], name: str | None) -> list[Step]:
    """The step ``--step`` names (all steps when ``name`` is None)."""
    if not name:
        return steps
    chosen = [s for s in steps if norm_header(s.name) == norm_header(name)]
    if not chosen:
        names = [s.name for s in steps]
        raise ConfigError(
            f"--step: no step named '{name}'{did_you_mean(name, names)}. Steps: {', '.join(names)}."
        )
    return chosen


def run_step(step: Step) -> Step:
    """The step as the provider sees it: with the model that answers this run."""
    if step.run_model:
        return step.model_copy(update={"model": step.run_model, "run_model": None})
    return step
