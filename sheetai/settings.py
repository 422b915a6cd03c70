"""All of sheetai's settings, read once, from one place.

Precedence, highest first: arguments passed in code (the CLI's flags), ``SHEETAI_*`` environment
variables, a ``.env`` file in the working directory, then the defaults below.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_home"]


def default_home() -> Path:
    """Where caches and local state live unless ``SHEETAI_HOME`` moves them."""
    return Path.home() / ".sheetai"


class Settings(BaseSettings):
    """sheetai's settings; every field can be set as ``SHEETAI_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="SHEETAI_", env_file=".env", extra="ignore", populate_by_name=True
    )

    home: Path = Field(default_factory=default_home)
    config_tab: str = "sheetai"
    default_model: str = "local"
    # Results are committed (written + state saved) at least this often, so an interruption
    # loses at most this many rows or seconds of work.
    chunk_rows: int = 500
    chunk_seconds: float = 10.0
    max_cost_usd: float | None = None
    google_api_url: str = "https://sheets.googleapis.com"
    google_credentials: Path | None = None
    service_token: SecretStr | None = None
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
