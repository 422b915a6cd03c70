"""All of sheetai's settings, read once, from one place.

Precedence, highest first: arguments passed in code (the CLI's flags), ``SHEETAI_*`` environment
variables, a ``.env`` file in the working directory, then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
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
    # Excel (xlwings) =AICLASSIFY: a cell shows "#N/A" after this long instead of waiting on.
    udf_timeout_seconds: float = 60.0
    # Google Sheets: real writes at most this often (engine commits in between are merged), so a
    # long sync stays far below Google's 60 writes/minute; retries on 429/5xx are capped.
    google_commit_seconds: float = 30.0
    google_max_retries: int = 5
    # `sheetai serve`: per-sheet HMAC secrets and the nightly schedule (JSON files; default
    # <home>/sheet_secrets.json and <home>/schedule.json), browser origins allowed by CORS.
    sheet_secrets_file: Path | None = None
    schedule_file: Path | None = None
    # Where the service keeps jobs, the answer cache, schedule fires and shared pacing (issue
    # 17): "sqlite" (files under home, one machine) or a postgresql:// URL shared by replicas.
    store: str = "sqlite"
    # A replica renews its running jobs' leases; a job whose lease runs out (its replica died)
    # is taken up by another. Replicas' clocks must agree to well within this (NTP).
    job_lease_seconds: float = Field(default=30.0, gt=0)
    cors_origins: list[str] = ["https://localhost:3000"]
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    # The OpenAI-compatible provider (see README "OpenAI and compatible servers").
    openai_default_model: str = "gpt-4.1-mini"
    openai_prices: dict[str, list[float]] = Field(default_factory=dict)  # USD per 1M in/out
    openai_rpm: int | None = None
    openai_tpm: int | None = None
    openai_concurrency: int = 64
    openai_timeout_seconds: float = 60.0
    openai_max_retries: int = 6
    # Structured output: "auto" tries a strict json_schema, then json_object, then plain text
    # (JSON asked for in the prompt) as the server refuses each; the others force one.
    openai_response_format: Literal["auto", "json_schema", "json_object", "text"] = "auto"
    # A server on this machine or the local network (loopback or private address): as many
    # requests at once as the slots it reports (llama.cpp /props), else this many when it
    # answers slowly; and this long for one answer, which is never sent again while it may
    # still be computed. SHEETAI_OPENAI_CONCURRENCY / _TIMEOUT_SECONDS, when set, win.
    openai_local_concurrency: int = Field(default=2, gt=0)
    openai_local_timeout_seconds: float = Field(default=600.0, gt=0)
    openai_logprobs: bool = True
    # Cap on an answer's tokens (max_completion_tokens); None = as the run's answers need it
    # (at most 300, 200 for extract, 1,500 for generate, and always with the Batch API), plus
    # 4,000 for a reasoning model's thinking.
    openai_max_output_tokens: int | None = Field(default=None, gt=0)
    # Times an LLM answer that breaks the step's schema is asked again (with the error) before
    # its row is flagged INVALID_OUTPUT and counted as ``invalid``.
    max_reasks: int = Field(default=2, ge=0)
    # Sent to reasoning models (o-series, gpt-5): "minimal", "low", "medium", "high"; "" = none.
    openai_reasoning_effort: str = "low"
    batch_poll_seconds: float = 30.0
    # Rows a person labelled (review tab, gold column, kept edits) go into an LLM step's prompt
    # as at most this many few-shot examples, of at most this many tokens in all.
    fewshot_max_examples: int = Field(default=12, ge=0)
    fewshot_max_tokens: int = Field(default=1_500, ge=0)
    azure_openai_endpoint: str | None = Field(
        default=None, validation_alias="AZURE_OPENAI_ENDPOINT"
    )
    azure_openai_api_key: SecretStr | None = Field(
        default=None, validation_alias="AZURE_OPENAI_API_KEY"
    )
    azure_openai_deployment: str | None = None
    openai_api_version: str = Field(default="2024-10-21", validation_alias="OPENAI_API_VERSION")
    # OpenAI Flex processing: "flex" asks for half-price, slower answers on the models that offer
    # it (a 429 "resource unavailable" is retried later, never lost); None sends no tier.
    openai_service_tier: Literal["auto", "default", "flex", "priority"] | None = None
    # Prices (USD per million tokens) that add to or replace the built-in tables of every vendor:
    # a JSON file, see README "Prices".
    prices_file: Path | None = None
    # Anthropic (Claude), through the official SDK, which reads the same two variables.
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    # Pacing by hand (None: the anthropic-ratelimit-* headers); output tokens are limited apart
    # from input tokens, and a request's max_tokens counts against the output limit at once.
    anthropic_rpm: int | None = Field(default=None, gt=0)
    anthropic_input_tpm: int | None = Field(default=None, gt=0)
    anthropic_output_tpm: int | None = Field(default=None, gt=0)
    anthropic_concurrency: int = Field(default=32, gt=0)
    anthropic_timeout_seconds: float = Field(default=60.0, gt=0)
    anthropic_max_retries: int = Field(default=6, ge=0)
    # max_tokens of every request (None: sized from the step: classify/score 200, extract 160 +
    # 60 a field, generate 1024); Anthropic counts it against the output-token limit at the start
    anthropic_max_tokens: int | None = Field(default=None, gt=0)
    # Google Gemini, through the official google-genai SDK.
    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    # Where the Gemini API is (tests and proxies point it elsewhere); None: Google's.
    gemini_base_url: str | None = None
    gemini_rpm: int | None = Field(default=None, gt=0)
    gemini_tpm: int | None = Field(default=None, gt=0)
    gemini_concurrency: int = Field(default=32, gt=0)
    gemini_timeout_seconds: float = Field(default=60.0, gt=0)
    gemini_max_retries: int = Field(default=6, ge=0)
    # Syncs nobody pressed (issue 16). The service starts a sheet's sync on edit this long after
    # the last edit request for it, so typing down a column or a paste is one sync, not many.
    edit_quiet_seconds: float = Field(default=10.0, ge=0)
    # Automatic syncs (on edit, on schedule, `sheetai watch`) of one workbook spend at most this
    # many USD per UTC day, kept in <home>/daily_spend.sqlite3; then they are refused, with a
    # message, until midnight UTC (None, in code: no cap). A person's run (CLI, Sync button) is
    # neither capped nor counted.
    auto_max_cost_usd_per_day: float | None = Field(default=1.0, ge=0)
    # `sheetai watch`: a saved file is synced once it has not changed for this long (an editor
    # writes a temp file and renames it; a script may write the file in several goes).
    watch_settle_seconds: float = Field(default=1.0, ge=0)
    # Poll the folder instead of asking the OS to report changes: for network drives and
    # Docker volumes, where change notices do not arrive.
    watch_force_polling: bool = False
