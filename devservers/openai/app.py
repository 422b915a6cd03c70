"""The fake OpenAI over HTTP: routes, sign-in, request parsing and OpenAI's response shapes.

OpenAI's API under ``/v1`` (chat completions, Files, Batches) and Azure OpenAI's under
``/openai`` (chat at ``/openai/deployments/{deployment}/chat/completions``, where the deployment
is the model whatever the body says; Files and Batches alike). Azure requests need an
``api-key`` header (401 otherwise; it must equal ``api_key`` when that is set); their
``api-version`` query parameters are counted. ``GET /props`` is llama.cpp's (``slots``), and
``GET /_fake/stats`` gives a server running as a subprocess its counters (not counted itself).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .batches import BatchStore
from .model import SERVER_ERROR, FakeModel, Reply, error

__all__ = ["make_app"]

Endpoint = Callable[[Request, bytes], Awaitable[Reply]]


def _response(reply: Reply) -> Response:
    if isinstance(reply.body, str):
        return Response(reply.body, reply.status, reply.headers, media_type=reply.media_type)
    return JSONResponse(reply.body, reply.status, reply.headers)


def _not_found(path: str) -> Reply:
    return error(404, f"Unknown request URL: {path}.", "invalid_request_error", "unknown_url")


def _parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """``{field: (filename, bytes)}`` from a ``multipart/form-data`` body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    fields = {}
    for part in body.split(b"--" + match.group(1).encode())[1:-1] if match else []:
        head, _, data = part[2:].partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name:
            fields[name.group(1)] = (filename.group(1) if filename else None, data[:-2])
    return fields


def make_app(model: FakeModel, stopping: Callable[[], bool]) -> ASGIApp:
    """The ASGI app serving ``model``; ``stopping()`` cuts hanging requests short."""
    store = BatchStore(model)

    async def chat(request: Request, raw: bytes) -> Reply:
        body = json.loads(raw)
        if "deployment" in request.path_params:
            body["model"] = request.path_params["deployment"]  # Azure: the deployment decides
        model.begin_chat(body)
        try:
            reply = model.chat(body)
            if reply.delay_s > 0:
                await asyncio.sleep(reply.delay_s)
            end = asyncio.get_running_loop().time() + model.hang_seconds
            while reply.hang and asyncio.get_running_loop().time() < end and not stopping():
                await asyncio.sleep(0.05)
            return reply
        finally:
            model.end_chat()

    async def upload_file(request: Request, raw: bytes) -> Reply:
        fields = _parse_multipart(raw, request.headers.get("content-type", ""))
        filename, data = fields["file"]
        return Reply(
            200, store.store_file(data, filename or "upload", fields["purpose"][1].decode())
        )

    async def list_files(request: Request, raw: bytes) -> Reply:
        data = store.list_files(request.query_params.get("purpose"))
        return Reply(200, {"object": "list", "data": data, "has_more": False})

    async def delete_file(request: Request, raw: bytes) -> Reply:
        file_id = request.path_params["file_id"]
        store.delete_file(file_id)
        return Reply(200, {"id": file_id, "object": "file", "deleted": True})

    async def file_content(request: Request, raw: bytes) -> Reply:
        data = store.data[request.path_params["file_id"]]
        return Reply(200, data.decode(), media_type="application/octet-stream")

    async def create_batch(request: Request, raw: bytes) -> Reply:
        status = model.batch_faults.popleft() if model.batch_faults else 0
        if status:
            return error(status, SERVER_ERROR, "server_error")
        return Reply(200, store.create(json.loads(raw)))

    async def get_batch(request: Request, raw: bytes) -> Reply:
        return Reply(200, store.get(request.path_params["batch_id"]))

    async def list_batches(request: Request, raw: bytes) -> Reply:
        page = store.list(int(request.query_params.get("limit", 20)))
        return Reply(200, {
            "object": "list", "data": page, "has_more": len(store.batches) > len(page),
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        })  # fmt: skip

    async def props(request: Request, raw: bytes) -> Reply:
        """llama.cpp's server properties; only ``total_slots`` is served."""
        if model.slots is None:
            return _not_found(request.url.path)
        return Reply(200, {"total_slots": model.slots, "model_path": "fake.gguf"})

    async def stats(request: Request, raw: bytes) -> Reply:
        return Reply(200, model.stats())

    def route(path: str, endpoint: Endpoint, method: str) -> Route:
        async def handle(request: Request) -> Response:
            raw = await request.body()
            if model.on_request is not None:
                await model.on_request(request.method, request.url.path)
            return _response(await endpoint(request, raw))

        return Route(path, handle, methods=[method])

    shared = [  # OpenAI's under /v1, Azure's under /openai
        ("/files", upload_file, "POST"),
        ("/files", list_files, "GET"),
        ("/files/{file_id}", delete_file, "DELETE"),
        ("/files/{file_id}/content", file_content, "GET"),
        ("/batches", create_batch, "POST"),
        ("/batches", list_batches, "GET"),
        ("/batches/{batch_id}", get_batch, "GET"),
    ]
    routes = [
        route("/v1/chat/completions", chat, "POST"),
        route("/openai/deployments/{deployment}/chat/completions", chat, "POST"),
        route("/props", props, "GET"),
        route("/_fake/stats", stats, "GET"),
        *[route(prefix + path, fn, m) for prefix in ("/v1", "/openai") for path, fn, m in shared],
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return _response(_not_found(f"{request.method} {request.url.path}"))

    app = Starlette(routes=routes, exception_handlers={404: not_found})

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        """Count requests and responses; refuse those without a key or with the wrong one."""
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_fake/"):
            return await app(scope, receive, send)
        model.count_request(path)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                model.count_response(message["status"])
            await send(message)

        refused = _refusal(model, scope)
        if refused is not None:
            return await _response(refused)(scope, receive, counting_send)
        await app(scope, receive, counting_send)

    return counted


def _refusal(model: FakeModel, scope: Scope) -> Reply | None:
    """The answer to a request the server turns away before routing it, if any."""
    path = scope["path"]
    headers = dict(scope["headers"])
    if path.startswith("/v1/"):
        auth = headers.get(b"authorization", b"").decode()
        if not auth.startswith("Bearer ") or model.api_key not in (None, auth[7:]):
            message = "Incorrect API key provided."
            return error(401, message, "invalid_request_error", "invalid_api_key")
        if not model.batch_api and path.startswith(("/v1/files", "/v1/batches")):
            return _not_found(path)
    if path.startswith("/openai/"):
        key = headers.get(b"api-key", b"").decode()
        if not key or model.api_key not in (None, key):
            message = (
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource."
            )
            return error(401, message, "invalid_request_error", "401")
        version = parse_qs(scope["query_string"].decode()).get("api-version", [""])[0]
        model.count_api_version(version)
    return None
