"""Write a starter config tab (``sheetai init``)."""

from __future__ import annotations

from .backends.base import Backend, CellBlock
from .config import CONFIG_HEADERS, parse_config
from .errors import ConfigError
from .text import did_you_mean, is_blank, norm_header

__all__ = ["add_step"]


def add_step(
    backend: Backend,
    *,
    tab: str,
    sheet: str,
    inputs: str,
    task: str,
    labels: str,
    output: str,
    step: str | None = None,
    instructions: str = "",
    model: str = "",
    min_confidence: float | None = None,
    examples: str = "",
) -> str:
    """Append a step row to the config tab (creating the tab), check it, and save.

    Returns the step's name. Nothing is written if the resulting config would be invalid.
    """
    titles = backend.sheet_titles()
    if sheet not in titles:
        matches = [t for t in titles if norm_header(t) == norm_header(sheet)]
        if not matches:
            raise ConfigError(
                f"--sheet: the workbook has no sheet '{sheet}'{did_you_mean(sheet, titles)}."
            )
        sheet = matches[0]
    existing_tab = next((t for t in titles if norm_header(t) == norm_header(tab)), None)
    grids = backend.read([sheet, *([existing_tab] if existing_tab else [])])
    config = grids.get(existing_tab or "", []) if existing_tab else []
    if config and not all(is_blank(v) for v in config[0]):
        header = [str(v) if v is not None else "" for v in config[0]]
    else:
        header, config = list(CONFIG_HEADERS), []
    name = step or output.strip().lower().replace(" ", "_") or "step1"
    values = {
        "step": name,
        "sheet": sheet,
        "input": inputs,
        "task": task,
        "instructions": instructions,
        "labels": labels,
        "output": output,
        "model": model,
        "min confidence": min_confidence if min_confidence is not None else "",
        "examples": examples,
    }
    row = [values.get(norm_header(h), "") for h in header]
    new_config = [header, *[list(r) for r in config[1:]], row]
    headers = {t: (g[0] if g else []) for t, g in backend.read(titles).items()}
    parse_config(new_config, headers, tab=existing_tab or tab)
    if existing_tab is None:
        backend.add_sheet(tab)
        backend.write([CellBlock(tab, 1, 1, [header])])
    target = existing_tab or tab
    row_number = len(config) + 1 if config else 2
    backend.write([CellBlock(target, row_number, 1, [row])])
    backend.commit()
    return name
