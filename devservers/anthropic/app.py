"""The fake Claude over HTTP: Anthropic's routes, sign-in and response shapes.

``POST /v1/messages``; Message Batches at ``POST /v1/messages/batches``, ``GET
/v1/messages/batches/{id}``, ``GET /v1/messages/batches/{id}/results`` (JSONL) and ``POST
/v1/messages/batches/{id}/cancel``; ``GET /_fake/stats`` (not counted) gives a server in its own
process its counters. With an ``api_key`` set, a request without it (``x-api-key`` or a bearer
token) gets 401.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devservers.openai import Reply

from .batches import BatchStore
from .model import FakeClaudeModel, anthropic_error

__all__ = ["make_app"]


def make_app(model: FakeClaudeModel) -> Starlette:
    """The ASGI app serving ``model``."""
    store = BatchStore(model)

    def counted(handler: Callable[[Request], Awaitable[Reply]]) -> Callable:
        async def endpoint(request: Request) -> Response:
            # The SDK sends the key as ``x-api-key`` or, from 2.x, ``Authorization: Bearer``.
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            key = request.headers.get("x-api-key") or bearer
            if model.api_key is not None and key != model.api_key:
                body = {"type": "error", "error": {"type": "authentication_error",
                                                   "message": "invalid x-api-key"}}  # fmt: skip
                reply = Reply(401, body)
            else:
                reply = await handler(request)
            if reply.delay_s > 0:
                await asyncio.sleep(reply.delay_s)
            model.count(request.url.path, reply.status)
            headers = {"request-id": "req_fake", **reply.headers}
            if isinstance(reply.body, str):
                return Response(reply.body, reply.status, headers, media_type=reply.media_type)
            return JSONResponse(reply.body, reply.status, headers)

        return endpoint

    async def messages(request: Request) -> Reply:
        return model.message(json.loads(await request.body()))

    async def create_batch(request: Request) -> Reply:
        root = str(request.base_url).rstrip("/")
        return Reply(200, store.create(json.loads(await request.body()), root))

    async def get_batch(request: Request) -> Reply:
        batch_id = request.path_params["batch_id"]
        if batch_id not in store.batches:
            return anthropic_error(404, f"batch {batch_id} not found")
        return Reply(200, store.public(batch_id))

    async def results(request: Request) -> Reply:
        batch_id = request.path_params["batch_id"]
        if batch_id not in store.results:
            return anthropic_error(404, f"no results for batch {batch_id}")
        text = store.results[batch_id].decode()
        return Reply(200, text, media_type="application/binary")

    async def cancel(request: Request) -> Reply:
        batch_id = request.path_params["batch_id"]
        if batch_id not in store.batches:
            return anthropic_error(404, f"batch {batch_id} not found")
        return Reply(200, store.cancel(batch_id))

    async def stats(request: Request) -> Response:
        return JSONResponse(model.stats())

    return Starlette(
        routes=[
            Route("/v1/messages", counted(messages), methods=["POST"]),
            Route("/v1/messages/batches", counted(create_batch), methods=["POST"]),
            Route("/v1/messages/batches/{batch_id}", counted(get_batch), methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}/results", counted(results), methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}/cancel", counted(cancel), methods=["POST"]),
            Route("/_fake/stats", stats, methods=["GET"]),
        ]
    )
