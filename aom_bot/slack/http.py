"""HTTP mode: Bolt inside Starlette (served by uvicorn), plus health and metrics.

``GET /healthz`` answers 200 ``{"status": "ok"}``, or 503 ``{"status": "unavailable",
"reasons": [...]}`` while :mod:`aom_bot.health` finds a problem; Socket Mode serves the same
two routes alone on ``--health-port`` (:func:`build_health_app`).

``POST /slack/events`` takes slash commands, interactivity and Events API deliveries; Bolt
verifies each signature (HMAC with the signing secret, timestamps older than 5 minutes refused)
and answers 401 to anything else before a listener runs. The route is ours rather than Bolt's
Starlette adapter to work around Bolt's form parsing, which loses any slash command whose body
contains the word "payload" (reference/slack-platform.md §2).

::

    web = build_http_app(bolt_app, metrics=metrics, health=health)
    await serve_http(web, "0.0.0.0", 3000)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import uvicorn
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aom_bot.health import HealthReport
from aom_bot.slack.metrics import CONTENT_TYPE, Metrics

__all__ = [
    "EVENTS_PATH",
    "MAX_BODY_BYTES",
    "HealthCheck",
    "RunningServer",
    "bolt_request",
    "build_health_app",
    "build_http_app",
    "serve_http",
    "start_http",
]

EVENTS_PATH = "/slack/events"
#: Slack's payloads are a few kilobytes; anything far larger is not from Slack
MAX_BODY_BYTES = 1024 * 1024

#: the bot's health (:class:`aom_bot.health.Health.report`); a bare bool is accepted too
HealthCheck = Callable[[], Awaitable[bool | HealthReport]]


def bolt_request(request: Request, raw: bytes) -> AsyncBoltRequest:
    """The Bolt request for a raw body, with Bolt's "payload" parsing defect corrected.

    A body Bolt cannot parse at all still becomes a request (with an empty body) so that its
    signature is checked like any other: unsigned garbage gets 401, never 500.
    """
    try:
        req = to_async_bolt_request(request, raw)
    except ValueError:  # not UTF-8, or broken JSON
        req = AsyncBoltRequest(body="", query=request.url.query, headers=dict(request.headers))
        req.raw_body = raw.decode("utf-8", errors="replace")
        return req
    if not req.body and "command=" in req.raw_body:
        # Bolt takes any form body containing "payload" for interactivity; a slash command
        # is a plain form, so parse it as one.
        req.body = dict(parse_qsl(req.raw_body, keep_blank_values=True))
        req.context = build_async_context(AsyncBoltContext({}), req.body)
    return req


def build_http_app(
    bolt_app: AsyncApp,
    *,
    metrics: Metrics,
    health: HealthCheck | None = None,
    path: str = EVENTS_PATH,
) -> Starlette:
    """The ASGI app of HTTP mode: Slack events, ``/healthz`` and ``/metrics``."""

    async def events(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        response = await bolt_app.async_dispatch(bolt_request(request, raw))
        return to_starlette_response(response)

    return Starlette(
        routes=[Route(path, events, methods=["POST"]), *_health_routes(metrics, health)]
    )


def build_health_app(*, metrics: Metrics, health: HealthCheck | None = None) -> Starlette:
    """``/healthz`` and ``/metrics`` alone (Socket Mode's ``--health-port``)."""
    return Starlette(routes=_health_routes(metrics, health))


def _health_routes(metrics: Metrics, health: HealthCheck | None) -> list[Route]:
    async def healthz(request: Request) -> Response:
        report = HealthReport(healthy=True)
        if health is not None:
            try:
                answer = await health()
            except Exception:
                answer = HealthReport(healthy=False, reasons=("the health check failed",))
            report = HealthReport(healthy=answer) if isinstance(answer, bool) else answer
        body: dict[str, object] = {"status": "ok" if report.healthy else "unavailable"}
        if not report.healthy:
            body["reasons"] = list(report.reasons)
        return JSONResponse(body, status_code=200 if report.healthy else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        server_header=False,
        log_config=None,
    )


async def serve_http(app: Starlette, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until cancelled (or SIGINT/SIGTERM)."""
    await uvicorn.Server(_config(app, host, port)).serve()


@dataclass(slots=True)
class RunningServer:
    """A uvicorn server started in the background (tests, benchmarks, the runtime)."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, finish in-flight requests, and return when the server is down."""
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def start_http(
    app: Starlette, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningServer]:
    """Run ``app`` on ``host:port`` (port 0: any free one) for the duration of the block."""
    server = uvicorn.Server(_config(app, host, port))
    # The embedding process owns SIGINT/SIGTERM; this server is stopped with stop().
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # raises the startup error
            raise RuntimeError("uvicorn stopped during startup")
        await asyncio.sleep(0.01)
    sockets = [s for srv in server.servers for s in srv.sockets]
    bound_port = int(sockets[0].getsockname()[1]) if sockets else port
    running = RunningServer(server=server, task=task, host=host, port=bound_port)
    try:
        yield running
    finally:
        await running.stop()
