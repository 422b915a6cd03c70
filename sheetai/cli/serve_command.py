"""``sheetai serve``: the HTTP service (Sync button, =AICLASSIFY, Excel add-in, nightly refresh)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SheetAIError
from ..settings import Settings
from .common import app, example, fail

__all__ = ["serve", "is_loopback"]


def is_loopback(host: str) -> bool:
    """True when only this machine can reach ``host``.

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0")]
    [True, True, True, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command(
    epilog=example(
        "sheetai serve",
        "SHEETAI_SERVICE_TOKEN=... sheetai serve --host 0.0.0.0 --port 8000 --credentials sa.json",
        "sheetai serve --host 0.0.0.0 --store postgresql://sheetai:...@db:5432/sheetai",
    )
)
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    credentials: Annotated[
        Path | None,
        typer.Option(help="Google service-account JSON file the service syncs sheets as."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    store: Annotated[
        str | None,
        typer.Option(
            help="Where jobs, the answer cache and the schedule live: 'sqlite' (files under "
            "SHEETAI_HOME, the default) or a postgresql:// URL shared by several replicas "
            "(setting: SHEETAI_STORE)."
        ),
    ] = None,
) -> None:
    """Serve the sync API for the Google Sheets button, =AICLASSIFY and the Excel add-in."""
    import uvicorn

    from ..service import create_app
    from ..service.logs import setup_logging
    from ..service.scheduler import load_schedule
    from ..stores import store_url

    settings = Settings()
    if credentials is not None:
        settings.google_credentials = credentials
    if store is not None:
        settings.store = store
    if not is_loopback(host) and settings.service_token is None:
        fail(
            SheetAIError(
                f"refusing to listen on {host} without a bearer token: set SHEETAI_SERVICE_TOKEN "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"), or '
                "listen on 127.0.0.1 behind a reverse proxy."
            )
        )
    try:
        load_schedule(settings.schedule_file or Path(settings.home) / "schedule.json")
        store_url(settings)
    except SheetAIError as error:
        fail(error)
    setup_logging(log_level)
    application = create_app(settings)
    uvicorn.run(application, host=host, port=port, log_config=None, access_log=False)
