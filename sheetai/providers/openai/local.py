"""Servers on this machine or the local network (llama.cpp, Ollama, vLLM on a workstation).

A cloud API takes dozens of requests at once and answers in a second or two; a model on a
2-core laptop answers one or two at a time, each in seconds. Sending it 64 at once only queues
them past their timeout, and resending a timed-out request makes the queue longer still.
llama.cpp's server says how many it computes at once (``total_slots`` at ``/props``, or one
entry per slot at ``/slots``): that is the concurrency to use.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from .client import http_module

__all__ = ["is_local", "server_root", "server_slots", "unreachable"]


def is_local(base_url: str | None) -> bool:
    """Whether ``base_url`` names a loopback or private address (or ``localhost``).

    >>> is_local("http://127.0.0.1:8080/v1"), is_local("http://192.168.1.20:11434/v1")
    (True, True)
    >>> is_local("http://localhost:8000/v1"), is_local("https://api.example.com/v1"), is_local(None)
    (True, False, False)
    """
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").casefold()
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def server_root(base_url: str) -> str:
    """The server's root, where llama.cpp serves ``/props`` and ``/slots``.

    >>> server_root("http://127.0.0.1:8080/v1/"), server_root("http://h:1/api/v1")
    ('http://127.0.0.1:8080', 'http://h:1/api')
    """
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


def server_slots(base_url: str, api_key: str | None = None, timeout: float = 3.0) -> int | None:
    """How many requests the server computes at once, when it says; None otherwise.

    Any failure (no such endpoint, another kind of server, nothing listening) is None: the
    chat requests that follow report a server that cannot be reached, with the URL.
    """
    httpx: Any = http_module()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    root = server_root(base_url)
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            props = _json(client.get(root + "/props"))
            slots = props.get("total_slots") if isinstance(props, dict) else None
            if isinstance(slots, int) and slots > 0:
                return slots
            listed = _json(client.get(root + "/slots"))
            if isinstance(listed, list) and listed:
                return len(listed)
    except Exception:  # a probe: whatever went wrong, the run goes on without it
        return None
    return None


def _json(response: Any) -> Any:
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def unreachable(base_url: str, timeout: float = 3.0) -> str | None:
    """Why nothing can be sent to ``base_url`` (refused, no such host, unreachable), or None.

    A plain TCP connect, so a wrong URL is reported before anything is planned or written
    rather than as every row's timeout. A host that does not answer in time is not judged
    here: the requests' own timeout and retries deal with a slow network.
    """
    parts = urlsplit(base_url)
    if not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return "no such host"
    except OSError as error:
        return "host unreachable" if error.errno in _UNREACHABLE else None
