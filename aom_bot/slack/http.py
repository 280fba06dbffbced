"""HTTP mode: Bolt inside Starlette (served by uvicorn), plus health and metrics.

``POST /slack/events`` takes slash commands, interactivity and Events API deliveries. The
signature (HMAC with the signing secret, timestamps older than 5 minutes refused) is checked on
the raw bytes *before anything parses them*: anyone can reach the endpoint, so an unsigned body
costs one log line and a 401, whatever it holds. A signed body that is not a Slack payload (not
an object, too deep, ``actions`` not a list of objects…) gets 400, never a 500 and a traceback.
Bolt verifies the signature again, as it always does.

``GET /healthz`` answers 200 ``{"status": "ok"}``, or 503 ``{"status": "unavailable",
"reasons": [...]}`` while :mod:`aom_bot.health` finds a problem; Socket Mode serves the same
two routes alone on ``--health-port`` (:func:`build_health_app`).

The route is ours rather than Bolt's
Starlette adapter to work around Bolt's form parsing, which loses any slash command whose body
contains the word "payload" (reference/slack-platform.md §2).

::

    web = build_http_app(bolt_app, metrics=metrics, health=health)
    await serve_http(web, "0.0.0.0", 3000)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
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
    "payload_problem",
    "serve_http",
    "signature_problem",
    "start_http",
]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
#: Slack's payloads are a few kilobytes; anything far larger is not from Slack
MAX_BODY_BYTES = 1024 * 1024

#: the bot's health (:class:`aom_bot.health.Health.report`); a bare bool is accepted too
HealthCheck = Callable[[], Awaitable[bool | HealthReport]]

#: how old a signed request may be (Slack's recommendation, and Bolt's)
MAX_REQUEST_AGE_SECONDS = 5 * 60
#: keys of a payload that Bolt and the listeners read as objects (or lists of objects)
_OBJECT_KEYS = ("event", "view", "container", "message", "channel", "user", "team", "enterprise")


def signature_problem(
    raw: bytes, headers: Mapping[str, str], secret: str, *, now: float
) -> str | None:
    """None when ``raw`` carries a valid, fresh Slack signature; else why not (for the log).

    Works on the bytes as received: nothing is decoded or parsed before the request is known
    to come from Slack.
    """
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        return "unsigned"
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_REQUEST_AGE_SECONDS:
        return "stale_or_bad_timestamp"
    if not secret:
        return "no_signing_secret"
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "bad_signature"
    return None


def payload_problem(body: object) -> str | None:
    """None when a parsed body has the shape Bolt and the listeners rely on; else what is wrong.

    Slack always sends an object; where it sends ``actions`` that is a list of objects, and the
    keys in ``_OBJECT_KEYS`` are objects (``user``/``channel``/``team`` may be plain IDs).
    """
    if not isinstance(body, dict) or not body:
        return "not_an_object"
    if not any(key in body for key in ("type", "command", "ssl_check")):
        return "not_a_slack_payload"
    actions = body.get("actions", [{}])
    if not isinstance(actions, list) or not actions:
        return "actions_not_a_list"
    if not all(isinstance(a, dict) and isinstance(a.get("action_id", ""), str) for a in actions):
        return "action_not_an_object"
    for key in _OBJECT_KEYS:
        value = body.get(key)
        if value is not None and not isinstance(value, dict | str):
            return f"{key}_not_an_object"
    if body.get("type") in ("block_actions", "interactive_message") and "actions" not in body:
        return "actions_missing"
    return None


def _refused(status: int, reason: str) -> Response:
    log.warning("slack.request.refused status=%d reason=%s", status, reason)
    return PlainTextResponse("invalid request" if status == 400 else "", status_code=status)


def bolt_request(request: Request, raw: bytes) -> AsyncBoltRequest:
    """The Bolt request for a raw body, with Bolt's "payload" parsing defect corrected.

    Raises ``ValueError`` for a body Bolt cannot turn into a request (not UTF-8, broken or
    too deeply nested JSON, JSON that is not an object): callers answer 400.
    """
    try:
        req = to_async_bolt_request(request, raw)
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        # Bolt's parser assumes an object: a list, a number or null fails inside it.
        raise ValueError(f"unparsable body ({type(exc).__name__})") from None
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
    signing_secret: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The ASGI app of HTTP mode: Slack events, ``/healthz`` and ``/metrics``.

    ``signing_secret`` defaults to the one ``bolt_app`` was built with.
    """
    secret = signing_secret if signing_secret is not None else _bolt_secret(bolt_app)

    async def events(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        refused = signature_problem(raw, request.headers, secret, now=clock())
        if refused is not None:
            return _refused(401, refused)
        try:
            req = bolt_request(request, raw)
        except ValueError:
            return _refused(400, "unparsable")
        problem = payload_problem(req.body)
        if problem is not None:
            return _refused(400, problem)
        response = await bolt_app.async_dispatch(req)
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


def _bolt_secret(bolt_app: AsyncApp) -> str:
    # AsyncApp keeps the secret it verifies with; reading it keeps one source of truth.
    return str(getattr(bolt_app, "_signing_secret", "") or "")


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
