"""Which tab is the config, which steps run, and with which model."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigError
from ..steps import Step
from ..text import did_you_mean, norm_header
from .options import SyncOptions

__all__ = ["find_config_tab", "select_steps", "run_step"]


def find_config_tab(titles: Sequence[str], name: str, location: str) -> str:
    """The workbook's config tab, matched case- and space-insensitively."""
    for title in titles:
        if norm_header(title) == norm_header(name):
            return title
    raise ConfigError(
        f"{location}: the workbook has no '{name}' tab{did_you_mean(name, titles)}. "
        "Add a tab with one row per step, or create one with `sheetai init`."
    )


def select_steps(steps: list[Step], options: SyncOptions) -> list[Step]:
    """The steps ``--step`` names (all by default), with ``--model`` applied."""
    for step in steps:
        if options.model and options.only_flagged:
            # The cascade: a stronger model answers the flagged rows *for* the configured
            # step, so its answers count as the step's and a plain run keeps them.
            step.run_model = options.model
        elif options.model:
            step.model = options.model
    if not options.step:
        return steps
    chosen = [s for s in steps if norm_header(s.name) == norm_header(options.step)]
    if not chosen:
        names = [s.name for s in steps]
        raise ConfigError(
            f"--step: no step named '{options.step}'{did_you_mean(options.step, names)}. "
            f"Steps: {', '.join(names)}."
        )
    return chosen


def run_step(step: Step) -> Step:
    """The step as the provider sees it: with the model that answers this run."""
    if step.run_model:
        return step.model_copy(update={"model": step.run_model, "run_model": None})
    return step
