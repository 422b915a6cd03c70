"""The fake Gemini over HTTP: the Gemini API's v1beta routes as the google-genai SDK calls them.

``POST /v1beta/models/{model}:generateContent`` and ``...:batchGenerateContent``,
``GET`` / ``DELETE /v1beta/batches/{id}`` and ``POST /v1beta/batches/{id}:cancel``. Every request
needs the ``x-goog-api-key`` header. Requests are counted by route, version included (sheetai
asks for ``v1beta``) (``API_KEY_INVALID`` otherwise).
"""

from __future__ import annotations

import asyncio
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .model import FakeGeminiModel, Reply, api_error

__all__ = ["make_app"]


def make_app(model: FakeGeminiModel) -> Starlette:
    """The ASGI app serving ``model``."""

    async def models(request: Request) -> Response:
        name, _, method = request.path_params["rest"].partition(":")
        model.count(f"POST /{request.path_params['version']}/models/*:{method}")
        refused = _refused(model, request)
        if refused is None:
            body = json.loads(await request.body() or b"{}")
            if method == "generateContent":
                if model.latency_ms:
                    await asyncio.sleep(model.latency_ms / 1000)
                refused = model.generate(name, body)
            elif method == "batchGenerateContent":
                refused = model.create_batch(f"models/{name}", body)
            else:
                refused = api_error(404, f"Method {method} is not served here.")
        return _response(refused)

    async def batches(request: Request) -> Response:
        rest = request.path_params["rest"]
        name, _, method = rest.partition(":")
        name = f"batches/{name}"
        where = f"{request.method} /{request.path_params['version']}/batches/*"
        model.count(where + (f":{method}" if method else ""))
        reply = _refused(model, request)
        if reply is None:
            if method == "cancel" and request.method == "POST":
                reply = model.cancel_batch(name)
            elif request.method == "DELETE":
                reply = model.delete_batch(name)
            else:
                reply = model.get_batch(name)
        return _response(reply)

    return Starlette(
        routes=[
            Route("/{version}/models/{rest:path}", models, methods=["POST"]),
            Route("/{version}/batches/{rest:path}", batches, methods=["GET", "POST", "DELETE"]),
        ]
    )


def _refused(model: FakeGeminiModel, request: Request) -> Reply | None:
    key = request.headers.get("x-goog-api-key")
    if not key or (model.api_key is not None and key != model.api_key):
        reply = api_error(400, "API key not valid. Please pass a valid API key.")
        reply.body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                           "reason": "API_KEY_INVALID"}]  # fmt: skip
        return reply
    return None


def _response(reply: Reply) -> Response:
    return JSONResponse(reply.body, reply.status)
