"""The FastAPI app behind ``sheetai serve``: the Sync button, ``=AICLASSIFY`` and the add-in.

Endpoints (every ``/v1`` request authenticated, see :mod:`sheetai.service.auth`):

* ``POST /v1/sync`` ``{"spreadsheet_id", "step", "force", "trigger", "nonce"}`` → 202 ``{"job_id",
  "status"}``; ``trigger`` is ``"button"`` (default), ``"edit"`` (starts after a quiet period,
  see :class:`~.jobs.JobRunner`) or ``"schedule"``
* ``GET /v1/jobs/{id}`` → ``{"job_id", "status", "progress", "summary", "error", "trigger"}``
* ``POST /v1/classify`` ``{"items": [...]}`` → ``{"results": [...]}`` in the same order
* ``POST /v1/excel/sync`` (bearer only; ``"trigger"``: ``"button"`` or ``"edit"``) →
  ``{"summary", "new_sheets", "writes"}``
* ``GET /healthz`` (alive) and ``GET /readyz`` (database, workers and scheduler up, and
  whether this replica takes jobs), no auth.

Errors are ``{"detail": "readable text"}``; a config error in an Excel sync is
``{"detail": {"message", "cell"}}``; 503 while the database (``store``) is unreachable.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import starlette
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..cache import ResultCache
from ..classify import ClassifyItem, classify_items
from ..engine.daily_cap import capped_sync
from ..engine.sync import Listener, SyncOptions
from ..errors import ConfigError, SheetAIError
from ..settings import Settings
from ..stores import StoreUnavailable, open_store
from .auth import MISSING_CREDENTIALS, Authenticator, AuthError, Principal
from .excel import ExcelSyncRequest, excel_sync
from .jobs import Job, JobStore, SyncFn
from .runner import JobRunner
from .scheduler import NightlyScheduler, ScheduleFires, load_schedule

__all__ = ["create_app", "google_sync", "MAX_CLASSIFY_ITEMS"]

log = logging.getLogger("sheetai.service")
MAX_CLASSIFY_ITEMS = 5000
_SHEET_ID = re.compile(r"^[A-Za-z0-9_-]{20,}$")
M = TypeVar("M", bound=BaseModel)


class SyncRequest(BaseModel):
    spreadsheet_id: str
    step: str | None = None
    force: bool = False
    # What asked: a click, an edit (coalesced, see JobRunner) or a scheduler of the caller's.
    trigger: Literal["button", "edit", "schedule"] = "button"
    # Unused by the service: two edit requests in one second would sign the same, and the
    # replay log refuses a signature it has seen; a fresh nonce makes each request its own.
    nonce: str | None = None


class ClassifyRequest(BaseModel):
    items: list[ClassifyItem] = Field(max_length=MAX_CLASSIFY_ITEMS)


def google_sync(settings: Settings) -> SyncFn:
    """Run a job's sync on its Google Sheet (the service only ever opens Google Sheets)."""

    def run(job: Job, listener: Listener) -> dict[str, Any]:
        from ..backends.google import GoogleSheetsBackend

        with GoogleSheetsBackend(job.sheet, settings) as backend:
            options = SyncOptions(step=job.step, force=job.force, trigger=job.origin)
            summary = capped_sync(backend, settings, options, listener)
        return summary.to_json()

    return run


def create_app(settings: Settings | None = None, *, run_sync: SyncFn | None = None) -> FastAPI:
    """The service; background workers and the scheduler run while the app's lifespan does."""
    settings = settings or Settings()
    home = Path(settings.home)
    auth = Authenticator(settings)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = JobStore(open_store(settings, "service"))
        runner = JobRunner(
            store,
            run_sync or google_sync(settings),
            quiet_seconds=settings.edit_quiet_seconds,
            lease_seconds=settings.job_lease_seconds,
        )
        entries = load_schedule(settings.schedule_file or home / "schedule.json")
        fires = ScheduleFires(store.store)
        scheduler = NightlyScheduler(
            entries,
            lambda sheet, step: runner.submit(sheet, step, False, "schedule"),
            claim=lambda entry, at: fires.claim(entry, at, runner.owner),
        )
        cache = ResultCache.for_settings(settings)
        state.update(store=store, runner=runner, scheduler=scheduler, cache=cache)
        runner.start()
        scheduler.start()
        log.info("service started", extra={"scheduled": len(entries), "version": __version__})
        try:
            yield
        finally:
            scheduler.shutdown()
            runner.stop()
            cache.close()
            store.close()
            auth.close()

    app = FastAPI(title="sheetai", version=__version__, lifespan=lifespan)
    app.state.sheetai = state

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(StoreUnavailable)
    async def _no_database(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("database unreachable", extra={"path": request.url.path, "error": str(exc)})
        return JSONResponse(
            {"detail": "the service's database is unreachable; try again shortly."},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    async def authenticated(request: Request) -> tuple[Principal, bytes]:
        headers = request.headers
        if "authorization" not in headers and "x-sheetai-signature" not in headers:
            # Refuse before reading a byte of the body: an anonymous caller costs nothing.
            raise HTTPException(401, MISSING_CREDENTIALS)
        body = await _capped_body(request, _body_limit(request.url.path))
        try:
            principal = auth.check(request.headers, body)
        except AuthError as exc:
            raise HTTPException(401, str(exc)) from None
        except SheetAIError as exc:  # the secrets file itself is broken
            log.error("secrets file unreadable", extra={"error": str(exc)})
            raise HTTPException(500, "the service cannot read its sheet secrets file.") from None
        request.state.principal = principal.via
        return principal, body

    def parse(model: type[M], body: bytes) -> M:
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise HTTPException(422, f"invalid request body: {problems}") from None

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        database = bool(state) and await run_in_threadpool(state["store"].ping)
        checks = {
            "jobs_db": database,
            "database": database,
            "workers": bool(state) and state["runner"].alive(),
            "taking_jobs": bool(state) and database and state["runner"].online,
            "scheduler": bool(state) and state["scheduler"].running,
        }
        ready = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
        if state:
            body["store"] = state["store"].store.name
            body["replica"] = state["runner"].owner
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.post("/v1/sync", status_code=202)
    async def start_sync(request: Request) -> dict[str, str]:
        principal, body = await authenticated(request)
        wanted = parse(SyncRequest, body)
        sheet = wanted.spreadsheet_id.strip()
        if principal.sheet is not None and principal.sheet != sheet:
            raise HTTPException(403, "this sheet's signature cannot start a sync of another sheet.")
        if not _SHEET_ID.match(sheet):
            raise HTTPException(400, f"'{sheet}' is not a Google Sheets spreadsheet id.")
        job = await run_in_threadpool(
            state["runner"].submit, sheet, wanted.step, wanted.force, wanted.trigger
        )
        return {"job_id": job.id, "status": job.status}

    @app.get("/v1/jobs/{job_id}")
    async def get_job(job_id: str, request: Request) -> dict[str, Any]:
        principal, _ = await authenticated(request)
        job = await run_in_threadpool(state["store"].get, job_id)
        if job is None or (principal.sheet is not None and job.sheet != principal.sheet):
            raise HTTPException(404, f"no job {job_id}.")
        return job.to_json()  # type: ignore[no-any-return]

    @app.post("/v1/classify")
    async def classify(request: Request) -> dict[str, Any]:
        _, body = await authenticated(request)
        wanted = parse(ClassifyRequest, body)
        results = await run_in_threadpool(classify_items, wanted.items, settings, state["cache"])
        out: list[dict[str, Any]] = []
        for r in results:
            if r.error is not None:
                out.append({"error": r.error})
            else:
                out.append(
                    {"label": r.label, "confidence": r.confidence, "reasoning": r.reasoning,
                     "cached": r.cached}
                )  # fmt: skip
        return {"results": out}

    @app.post("/v1/excel/sync")
    async def sync_excel(request: Request) -> dict[str, Any]:
        principal, body = await authenticated(request)
        if principal.via != "bearer":
            raise HTTPException(403, "the Excel sync needs the service's bearer token.")
        wanted = parse(ExcelSyncRequest, body)
        try:
            return await run_in_threadpool(excel_sync, wanted, settings)
        except ConfigError as exc:
            raise HTTPException(400, {"message": exc.message, "cell": exc.cell}) from None
        except SheetAIError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        started = time.monotonic()
        response = await call_next(request)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "ms": round((time.monotonic() - started) * 1000, 1),
                "auth": getattr(request.state, "principal", None),
            },
        )
        return response

    # Starlette 0.51 added allow_private_network and answers Private Network Access preflights
    # itself (refusing them unless allowed); older versions need the header added by us.
    native_pna = _release(starlette.__version__) >= (0, 51)
    pna: dict[str, Any] = {"allow_private_network": True} if native_pna else {}
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
        **pna,
    )
    if not native_pna:
        app.add_middleware(_PrivateNetworkAccess)
    return app


def _release(version: str) -> tuple[int, ...]:
    """The leading numbers of a version string.

    >>> _release("0.51.0"), _release("1.10.0"), _release("0.49.0rc1")
    ((0, 51, 0), (1, 10, 0), (0, 49))
    """
    numbers = []
    for part in version.split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


_MAX_BODY = 10 * 2**20
_MAX_EXCEL_BODY = 200 * 2**20  # a whole workbook's values


def _body_limit(path: str) -> int:
    return _MAX_EXCEL_BODY if path.endswith("/excel/sync") else _MAX_BODY


async def _capped_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body over {limit // 2**20} MB.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body over {limit // 2**20} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


class _PrivateNetworkAccess:
    """Adds ``Access-Control-Allow-Private-Network: true`` to CORS preflight answers, so a page
    served from the internet (Office on the web) may call a service on localhost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-private-network", b"true"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
