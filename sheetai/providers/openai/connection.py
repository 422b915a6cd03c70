"""How requests go to one endpoint: its URL, timeouts, concurrency, output cap, response mode.

Each value comes from the settings, else from what is known of the server: a model on this
machine gets a longer timeout and as many requests at once as it has slots; a reasoning model
gets room to think; the response mode that worked last time is remembered per URL and model.
"""

from __future__ import annotations

import re

from ...errors import ProviderError
from ...settings import Settings
from ...steps import Task
from ..llm.output_cap import OutputCap
from ..llm.schema import AnswerSpec
from .client import Endpoint
from .formats import ModeStore
from .local import is_local, server_slots, unreachable

__all__ = ["Connection"]

# The most max_completion_tokens may be, by task: the Batch API's cap, and a live run's ceiling
# (its cap follows the answers, see llm/output_cap.py).
_MAX_OUT = {Task.CLASSIFY: 300, Task.SCORE: 300, Task.EXTRACT: 200, Task.GENERATE: 1500}
# Reasoning models spend hidden, billed output tokens thinking before they answer, all within
# max_completion_tokens: without room for that, an answer is cut off before it starts.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)(?!.*-chat)", re.IGNORECASE)
_THINKING_ROOM = 4000
_OPENAI_URL = "https://api.openai.com/v1"
# Flex answers may take minutes: OpenAI recommends a 15-minute timeout for them.
FLEX_TIMEOUT_S = 900.0


class Connection:
    """The request settings for one endpoint.

    Args:
        endpoint: where requests go.
        settings: the run's settings; a value set explicitly always wins.
    """

    def __init__(self, endpoint: Endpoint, settings: Settings) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self._modes: ModeStore | None = None
        self._slots: dict[str, int | None] = {}
        self._reachable = False

    @property
    def base_url(self) -> str:
        """Where requests go, as a user would write it (also the key of the mode store)."""
        return (self.endpoint.base_url or _OPENAI_URL).rstrip("/")

    @property
    def url_setting(self) -> str:
        """The setting that names the URL, for messages."""
        return "AZURE_OPENAI_ENDPOINT" if self.endpoint.azure else "OPENAI_BASE_URL"

    @property
    def local(self) -> bool:
        """A server on this machine or network (Azure never is, whatever its URL)."""
        return not self.endpoint.azure and is_local(self.endpoint.base_url)

    @property
    def reasoning(self) -> bool:
        """A reasoning model (o-series, gpt-5): it thinks in billed, hidden output tokens and
        returns no log-probabilities."""
        return _REASONING_MODEL.match(self.endpoint.model) is not None

    @property
    def reasoning_effort(self) -> str:
        """The ``reasoning_effort`` to send; empty for a model that does not take one."""
        return self.settings.openai_reasoning_effort.strip() if self.reasoning else ""

    def max_output_tokens(self, task: Task) -> int:
        """max_completion_tokens: the setting, else the task's cap plus room to think."""
        if self.settings.openai_max_output_tokens:
            return self.settings.openai_max_output_tokens
        return _MAX_OUT[task] + (_THINKING_ROOM if self.reasoning else 0)

    def output_cap(self, spec: AnswerSpec) -> OutputCap:
        """A live run's max_completion_tokens: the setting, else as tight as its answers allow."""
        return OutputCap(
            spec,
            _MAX_OUT[spec.step.task],
            fixed=self.settings.openai_max_output_tokens,
            extra=_THINKING_ROOM if self.reasoning else 0,
        )

    @property
    def service_tier(self) -> str:
        """The ``service_tier`` sent (``SHEETAI_OPENAI_SERVICE_TIER``, ``--flex``); "": none."""
        return self.settings.openai_service_tier or ""

    @property
    def flex(self) -> bool:
        return self.service_tier == "flex"

    @property
    def timeout(self) -> float:
        """Seconds to wait for one answer."""
        if self._local_timeout:
            return self.settings.openai_local_timeout_seconds
        if self.flex and not self._explicit("openai_timeout_seconds"):
            return FLEX_TIMEOUT_S
        return self.settings.openai_timeout_seconds

    @property
    def timeout_setting(self) -> str:
        """The setting that decides :attr:`timeout`, for messages."""
        if self._local_timeout:
            return "SHEETAI_OPENAI_LOCAL_TIMEOUT_SECONDS"
        return "SHEETAI_OPENAI_TIMEOUT_SECONDS"

    @property
    def _local_timeout(self) -> bool:
        return self.local and not self._explicit("openai_timeout_seconds")

    def check_reachable(self, step: str) -> None:
        """A self-hosted or Azure URL where nothing listens stops the step before it starts."""
        if not self.endpoint.base_url or self._reachable:
            return
        why = unreachable(self.endpoint.base_url)
        if why is not None:
            raise ProviderError(
                f"step '{step}': cannot connect to {self.base_url} ({why}): check "
                f"{self.url_setting}."
            )
        self._reachable = True

    def workers(self, wanted: int | None) -> tuple[int, int | None]:
        """How many requests at once, and for a local server that reports no slots, how many
        to keep if its first answer is slow (``--concurrency`` and the setting win)."""
        if wanted:
            return max(1, wanted), None
        default = max(1, self.settings.openai_concurrency)
        if not self.local or self._explicit("openai_concurrency"):
            return default, None
        url = self.endpoint.base_url or ""
        if url not in self._slots:
            self._slots[url] = server_slots(url, self.endpoint.api_key)
        slots = self._slots[url]
        if slots is not None:
            return slots, None
        return default, self.settings.openai_local_concurrency

    @property
    def mode_forced(self) -> bool:
        """The response mode is set (``SHEETAI_OPENAI_RESPONSE_FORMAT``), not found out."""
        return self.settings.openai_response_format != "auto"

    @property
    def start_mode(self) -> str:
        """The response mode to start with: the setting, else the one that worked last."""
        if self.mode_forced:
            return self.settings.openai_response_format
        return self._mode_store.get(self.base_url, self.endpoint.model) or "json_schema"

    def remember_mode(self, mode: str) -> None:
        """Keep the mode that worked for the next run (unless the setting decides it)."""
        if not self.mode_forced:
            self._mode_store.put(self.base_url, self.endpoint.model, mode)

    def close(self) -> None:
        if self._modes is not None:
            self._modes.close()
            self._modes = None

    @property
    def _mode_store(self) -> ModeStore:
        if self._modes is None:
            self._modes = ModeStore.in_home(self.settings.home)
        return self._modes

    def _explicit(self, name: str) -> bool:
        return name in self.settings.model_fields_set
