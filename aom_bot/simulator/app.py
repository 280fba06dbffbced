"""The simulated AOM automation API (and a tiny IAM) as a Starlette app.

All state is passed in (``World``, ``Faults``, ``RequestCounter``), never built in a lifespan, so
``httpx.ASGITransport`` (which runs no lifespan) sees the same app as uvicorn does.

>>> world = World(seed=1, clock=lambda: 1_710_000_000.0)
>>> app = create_simulator_app(world, credentials=SimulatorCredentials())  # open demo mode
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aom_bot.simulator.auth import Authenticator, AuthFailure, Identity, SimulatorCredentials, utc
from aom_bot.simulator.faults import (
    FaultKind,
    Faults,
    RequestCounter,
    SimulatedDisconnectError,
    pick_fault,
)
from aom_bot.simulator.iam import issue_token
from aom_bot.simulator.ids import hex_id
from aom_bot.simulator.world import NotFoundError, RejectedError, World, dump_json

__all__ = ["create_simulator_app"]

#: how the simulator waits out an injected delay (its own: the simulator stands apart from aom_bot.clock)
Delay = Callable[[float], Awaitable[None]]

_JSON = "application/json;charset=UTF-8"
PARAM_ERROR = {"error_code": "AOM.31001403", "error_message": "param error.", "htp_code": "400"}
AUTH_FAILED = {"error_code": "AOM.31009004", "error_message": "auth failed.", "http_code": "401"}
SERVER_ERROR = {"error_code": "AOM.31001405", "error_message": "internal server error.",
                "http_code": "500"}  # fmt: skip
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
    b"</html>\r\n"
)
_TERMINATE_BODIES = (b"", b"success", b'"success"', b'{"result":"success"}')
_SORT_FIELDS = {"create_time", "update_time", "last_execution_start_time"}


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    raw = body if isinstance(body, bytes) else dump_json(body)
    return Response(raw, status_code=status, media_type=_JSON, headers=headers)


def _gateway(status: int, code: str, message: str, request_id: str) -> Response:
    return _json(status, {"error_msg": message, "error_code": code, "request_id": request_id})


def error_response(status: int, request_id: str, retry_after: int = 1) -> Response:
    """The body AOM (or its gateway) sends for ``status``."""
    if status == 400:
        return _json(400, PARAM_ERROR)
    if status == 401:
        return _json(401, AUTH_FAILED)
    if status == 500:
        return _json(500, SERVER_ERROR)
    if status == 429:
        response = _gateway(429, "APIGW.0308", "The throttling threshold has been reached: "
                            "policy user over ratelimit, limit:200, time:1 second", request_id)  # fmt: skip
        response.headers["Retry-After"] = str(retry_after)
        return response
    return _gateway(status, "APIGW.0201", "Backend service unavailable or timed out", request_id)


def _request_id(scope: Scope) -> str:
    value: str = scope.get("state", {}).get("request_id", "")
    return value


class _FaultMiddleware:
    """Counts every request, then maybe delays, fails, garbles or drops it."""

    def __init__(self, app: ASGIApp, *, world: World, faults: Faults, requests: RequestCounter,
                 sleep: Delay) -> None:  # fmt: skip
        self.app = app
        self.world = world
        self.faults = faults
        self.requests = requests
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        record, before = self.requests.record(self.world.now_ms(), method, path)
        request_id = hex_id(self.world.seed, "request", method, path, before)
        scope.setdefault("state", {})["request_id"] = request_id
        send = _with_request_id(send, request_id)
        faults = self.faults
        fault = None
        if record.endpoint != "iam-tokens" and faults.path_contains in path:
            fault = pick_fault(faults, seed=self.world.seed, key=f"{method} {path}", n=before)
        if faults.latency_seconds > 0:
            await self.sleep(faults.latency_seconds)
        if isinstance(fault, int):
            response = error_response(fault, request_id, faults.retry_after_seconds)
            await response(scope, receive, send)
        elif fault is FaultKind.DROP:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", b"1024")]})  # fmt: skip
            raise SimulatedDisconnectError("Server disconnected without sending a response.")
        elif fault is FaultKind.HTML_502:
            await Response(_HTML_502, 502, media_type="text/html")(scope, receive, send)
        elif fault is FaultKind.MALFORMED_JSON:
            await self.app(scope, receive, _garbling(send))
        else:
            await self.app(scope, receive, send)


def _with_request_id(send: Send, request_id: str) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"x-request-id", request_id.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _garbling(send: Send) -> Send:
    """Buffer the response and send its first half only: JSON that does not parse."""
    start: Message = {}
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        broken = body[: len(body) // 2] or b"{"
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(broken)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": broken})

    return wrapped


class _Handlers:
    """The endpoints; one instance per app holds its world and authenticator."""

    def __init__(self, world: World, auth: Authenticator) -> None:
        self.world = world
        self.auth = auth
        self._terminate_bodies = itertools.cycle(_TERMINATE_BODIES)

    async def _authenticate(self, request: Request) -> Identity | Response:
        project_id = request.path_params["project_id"]
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)  # fmt: skip
        result = self.auth.check(
            method=request.method, path=raw_path.decode("latin-1"), query=query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(), project_id=project_id, now=utc(self.world.clock()),
        )  # fmt: skip
        if isinstance(result, AuthFailure):
            if result.gateway:
                message = f"Incorrect IAM authentication information: {result.reason}"
                return _gateway(401, "APIGW.0301", message, _request_id(request.scope))
            return _json(401, AUTH_FAILED)
        if project_id != self.world.project_id:
            return _gateway(403, "APIGW.0310", "The project is unavailable.",
                            _request_id(request.scope))  # fmt: skip
        return result

    async def list_workflows(self, request: Request) -> Response:
        identity = await self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        params = _workflow_query(await request.body())
        if params is None:
            return _json(400, PARAM_ERROR)
        return _json(200, self.world.workflow_page(**params))

    async def execute(self, request: Request) -> Response:
        identity = await self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        try:
            ex_id = self.world.start_execution(request.path_params["workflow_id"], identity.user)
        except NotFoundError as exc:
            return _not_found(exc.kind)
        return _json(200, {"execution_id": ex_id})

    async def list_executions(self, request: Request) -> Response:
        identity = await self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        try:
            return _json(200, self.world.executions_body(request.path_params["workflow_id"]))
        except NotFoundError as exc:
            return _not_found(exc.kind)

    async def status(self, request: Request) -> Response:
        identity = await self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        wf, ex = request.path_params["workflow_id"], request.path_params["execution_id"]
        try:
            return _json(200, self.world.execution_body(wf, ex))
        except NotFoundError as exc:
            return _not_found(exc.kind)

    async def terminate(self, request: Request) -> Response:
        identity = await self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        wf, ex = request.path_params["workflow_id"], request.path_params["execution_id"]
        try:
            self.world.terminate(wf, ex, identity.user)
        except NotFoundError as exc:
            return _not_found(exc.kind)
        return _json(200, next(self._terminate_bodies))

    async def operation(self, request: Request) -> Response:
        identity = await self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        wf, ex = request.path_params["workflow_id"], request.path_params["execution_id"]
        action = request.query_params.get("action", "")
        node_id = request.query_params.get("node_id", "")
        try:
            self.world.snapshot(wf, ex)
            if not action or not node_id:
                return _json(400, PARAM_ERROR)
            self.world.operate(wf, ex, action, node_id, identity.user)
        except NotFoundError as exc:
            return _not_found(exc.kind)
        except RejectedError:
            return _json(400, PARAM_ERROR)
        return _json(200, {"result": "success"})

    async def iam_tokens(self, request: Request) -> Response:
        return await issue_token(request, self.auth, utc(self.world.clock()), self.world.project_id)


def _not_found(what: str) -> Response:
    return _json(404, {"error_code": "AOM.31001404", "error_message": f"{what} not found.",
                       "http_code": "404"})  # fmt: skip


def _workflow_query(body: bytes) -> dict[str, Any] | None:
    """Validated workflow-list parameters, or None for a 400."""
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    page, size = data.get("page", 0), data.get("size", 10)
    search, kind = data.get("search") or "", data.get("type")
    sort_field, sort_type = data.get("sort_field"), data.get("sort_type") or "DESC"
    status = data.get("status")
    ints_ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (page, size))
    if not ints_ok or page < 0 or not 1 <= size <= 1000 or not isinstance(search, str):
        return None
    if kind is not None and kind not in ("cron", "event", "manual"):
        return None
    if sort_field is not None and sort_field not in _SORT_FIELDS:
        return None
    if not isinstance(sort_type, str) or sort_type.upper() not in ("ASC", "DESC"):
        return None
    if status is not None and not isinstance(status, str):
        return None
    return {"search": search, "page": page, "size": size, "type_": kind, "status": status,
            "sort_field": sort_field, "sort_type": sort_type}  # fmt: skip


async def _unknown_api(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return _gateway(status, "APIGW.0101", "The API does not exist or has not been published in "
                    "the environment", _request_id(request.scope))  # fmt: skip


def create_simulator_app(world: World, *, credentials: SimulatorCredentials,
                         faults: Faults | None = None, requests: RequestCounter | None = None,
                         sleep: Delay = asyncio.sleep) -> Starlette:  # fmt: skip
    """The simulated AOM (+ IAM ``/v3/auth/tokens``) serving ``world``.

    ``credentials`` is required so that open mode is a visible choice:
    ``SimulatorCredentials()`` accepts everything. ``faults`` and ``requests`` are created when not
    given; either way they are on ``app.state.faults`` / ``app.state.requests`` for tests to change
    and read. ``sleep`` is what added latency awaits (inject a fake to keep tests instant).
    """
    faults = faults if faults is not None else Faults()
    requests = requests if requests is not None else RequestCounter()
    auth = Authenticator(credentials)
    h = _Handlers(world, auth)
    base = "/v1/{project_id}/cms"
    run = base + "/workflow/{workflow_id}/executions/{execution_id}"
    routes = [
        Route(base + "/workflow-list", h.list_workflows, methods=["POST"]),
        Route(base + "/workflow/{workflow_id}/executions", h.execute, methods=["POST"]),
        Route(base + "/workflow/{workflow_id}/executions", h.list_executions, methods=["GET"]),
        Route(run + "/status", h.status, methods=["GET"]),
        Route(run + "/terminate", h.terminate, methods=["POST"]),
        Route(run + "/operation", h.operation, methods=["POST"]),
        Route("/v3/auth/tokens", h.iam_tokens, methods=["POST"]),
    ]
    middleware = [Middleware(_FaultMiddleware, world=world, faults=faults, requests=requests,
                             sleep=sleep)]  # fmt: skip
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={404: _unknown_api, 405: _unknown_api})  # fmt: skip
    app.state.world = world
    app.state.faults = faults
    app.state.requests = requests
    app.state.authenticator = auth
    return app
