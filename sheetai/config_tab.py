"""The config tab's parser under its original name; it lives in :mod:`sheetai.config`.

Kept so existing imports (``from sheetai.config_tab import parse_config``) keep working.
"""

from __future__ import annotations

from .config import CONFIG_HEADERS, config_rows, parse_config, parse_examples, parse_labels

__all__ = ["CONFIG_HEADERS", "parse_config", "parse_labels", "parse_examples", "config_rows"]
