"""The async AOM automation client: typed methods over one shared ``httpx.AsyncClient``.

Every failure becomes an ``aom_bot.errors.AomError`` (see that module's tree); every ID is
validated before a request is built; reads are retried with stamina (backoff, jitter,
``Retry-After``) while ``execute_workflow`` never is, because a blind retry can start a second run.

>>> async def main() -> None:  # doctest: +SKIP
...     http = build_http_client(base_url=aom_endpoint("cn-north-4"), auth=AkSkAuth(...))
...     async with AomClient(http, project_id=PROJECT_ID) as aom:
...         detail = await aom.get_execution(WORKFLOW_ID, EXECUTION_ID)
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import partial
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import quote

import aiohttp
import httpx
import stamina
from httpx_aiohttp import AiohttpTransport
from pydantic import ValidationError

from aom_bot.aom.auth import Clock, utc_now
from aom_bot.aom.ids import validate_id, validate_project_id
from aom_bot.aom.models import ExecutionDetail, Workflow, WorkflowPage
from aom_bot.aom.signing import canonical_query
from aom_bot.errors import (
    AomApiError,
    AomAuthError,
    AomBadRequestError,
    AomError,
    AomNotFoundError,
    AomResponseError,
    AomServerError,
    AomThrottledError,
    AomTransportError,
    InvalidIdError,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT",
    "LOGGER_NAME",
    "AomClient",
    "NodeAction",
    "RetryPolicy",
    "build_http_client",
    "error_details",
    "error_from_response",
    "parse_retry_after",
]

T = TypeVar("T")

LOGGER_NAME = "aom_bot.aom"
#: a 9 MB execution detail must fit in the read timeout, which applies per socket read
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=10.0)
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=50, keepalive_expiry=30
)
#: the largest body accepted (2,000 hosts with 4 KB logs are about 9 MB)
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024

_SHOWN_TEXT = 300
_MAX_PAGES = 1000
_URL_CACHE_SIZE = 512
_OLDEST = datetime.min.replace(tzinfo=UTC)
_NETWORK_ERRORS = (httpx.TransportError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def build_http_client(
    *,
    base_url: str,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    limits: httpx.Limits = DEFAULT_LIMITS,
) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` to share: pooled, no redirects, explicit timeouts.

    The default transport is httpx-aiohttp's, measured at a fraction of httpx's own CPU cost per
    request; tests pass ``httpx.MockTransport`` or ``httpx.ASGITransport`` instead.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        transport=transport if transport is not None else AiohttpTransport(limits=limits),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"Accept": "application/json", "User-Agent": "aom-bot"},
    )


class NodeAction(StrEnum):
    """What to do with a paused or failed node (the ``action`` of the operation endpoint)."""

    RESTART = "restart"
    SKIP = "skip"
    CONTINUE = "continue"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard to retry reads: at most ``attempts`` tries within ``timeout`` seconds in total.

    Throttling (429), server errors (5xx), timeouts and connection errors are retried with
    exponential backoff and jitter; a ``Retry-After`` is honoured up to ``max_retry_after``.
    """

    attempts: int = 4
    timeout: float = 60.0
    wait_initial: float = 0.5
    wait_max: float = 8.0
    wait_jitter: float = 1.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout <= 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy needs attempts >= 1, timeout > 0, max_retry_after >= 0")

    def delay_for(self, exc: Exception) -> bool | float:
        """stamina's backoff hook: False = give up, True = usual backoff, float = wait this long."""
        if isinstance(exc, AomThrottledError):
            if exc.retry_after is not None:
                return min(exc.retry_after, self.max_retry_after)
            return True
        if isinstance(exc, AomServerError):
            return True
        if isinstance(exc, AomTransportError):
            return not isinstance(exc.__cause__, httpx.UnsupportedProtocol)
        return False

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Await ``fn()`` with retries (stamina; its testing mode removes the waits).

        The first attempt runs outside stamina, which saves its bookkeeping on the common path;
        after a retryable failure, stamina's first attempt replays that failure, so its backoff,
        ``Retry-After`` and attempt count apply exactly as if it had made the first call.
        """
        try:
            return await fn()
        except Exception as exc:  # delay_for decides; a non-retryable error is re-raised at once
            first = exc
            if self.attempts == 1 or self.delay_for(exc) is False:
                raise
        async for attempt in stamina.retry_context(
            on=self.delay_for,
            attempts=self.attempts,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        ):
            with attempt:
                if attempt.num == 1:
                    raise first
                return await fn()
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover


# --- error bodies ---------------------------------------------------------------------------

_CODE_KEYS = ("error_code", "errorCode", "code")
_MESSAGE_KEYS = ("error_msg", "error_message", "errorMsg", "message")


def _clip(text: str, limit: int = _SHOWN_TEXT) -> str:
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _pick(obj: Mapping[str, object], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return _clip(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def error_details(body: bytes) -> tuple[str | None, str | None]:
    """(error code, message) from an error body, by the robust rule of reference §9.2.

    Code: error_code | errorCode | code; message: error_msg | error_message | errorMsg | message,
    at the top level or one object down; a body that is not such JSON gives its text, clipped.
    """
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        code, message = _pick(data, _CODE_KEYS), _pick(data, _MESSAGE_KEYS)
        for nested in data.values():
            if isinstance(nested, dict):
                code = code or _pick(nested, _CODE_KEYS)
                message = message or _pick(nested, _MESSAGE_KEYS)
        if code or message:
            return code, message
    return None, (_clip(text) or None)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date); None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _request_id(headers: Mapping[str, str], body_request_id: object = None) -> str | None:
    rid = headers.get("X-Request-Id") or headers.get("X-IAM-Trace-Id")
    if rid:
        return _clip(rid, 80)
    return _clip(body_request_id, 80) if isinstance(body_request_id, str) else None


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    action: str,
    now: datetime,
    service: str = "AOM",
) -> AomApiError:
    """The exception for an HTTP error status, carrying what the service said and its request ID."""
    code, said = error_details(body)
    body_rid: object = None
    if body[:1] == b"{":
        try:
            parsed = json.loads(body)
            body_rid = parsed.get("request_id") if isinstance(parsed, dict) else None
        except (ValueError, RecursionError):
            body_rid = None
    rid = _request_id(headers, body_rid)
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return AomThrottledError(
            f"{service} is throttling requests; could not {action} (HTTP 429).",
            retry_after=parse_retry_after(headers.get("Retry-After"), now),
            status_code=status,
            error_code=code,
            aom_message=said,
            request_id=rid,
        )
    cls: type[AomApiError]
    if status == httpx.codes.UNAUTHORIZED:
        cls, message = AomAuthError, f"{service} refused the credentials to {action} (HTTP 401)."
    elif status == httpx.codes.FORBIDDEN:
        cls, message = AomAuthError, f"{service} denied permission to {action} (HTTP 403)."
    elif status == httpx.codes.NOT_FOUND:
        cls, message = AomNotFoundError, f"{service} found nothing to {action} (HTTP 404)."
    elif status >= httpx.codes.INTERNAL_SERVER_ERROR:
        cls, message = AomServerError, f"{service} failed to {action} (HTTP {status})."
    else:
        cls = AomBadRequestError
        message = f"{service} rejected the request to {action} (HTTP {status})."
    return cls(message, status_code=status, error_code=code, aom_message=said, request_id=rid)


def _is_timeout(exc: BaseException) -> bool:
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        # httpx-aiohttp reports refused and dropped connections as ConnectTimeout; trust the cause.
        return isinstance(cause, TimeoutError)
    return isinstance(exc, httpx.TimeoutException | TimeoutError)


def _transport_error(exc: BaseException, action: str, service: str) -> AomTransportError:
    if _is_timeout(exc):
        return AomTransportError(f"{service} did not answer in time; could not {action}.")
    shown = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    detail = _clip(str(shown), 120)
    reason = f"{type(shown).__name__}: {detail}" if detail else type(shown).__name__
    return AomTransportError(f"Could not reach {service} to {action} ({reason}).")


# --- one HTTP exchange ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful (2xx) answer, read in full."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def request_id(self) -> str | None:
        return _request_id(self.headers)


async def _read_capped(response: httpx.Response, limit: int, action: str, service: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    size = int(declared) if declared.isdigit() and int(declared) > limit else 0
    chunks: list[bytes] = []
    if not size:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
    if size > limit:
        raise AomResponseError(
            f"{service} sent more than {limit // (1024 * 1024)} MB; refused to {action}.",
            status_code=response.status_code,
            request_id=_request_id(response.headers),
        )
    return b"".join(chunks)


async def exchange(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    action: str,
    max_body_bytes: int,
    clock: Clock,
    logger: logging.Logger,
    service: str = "AOM",
) -> Reply:
    """Send ``request`` once, read at most ``max_body_bytes``, and map every failure to AomError."""
    started = time.perf_counter()
    try:
        response = await http.send(request, stream=True)
        try:
            body = await _read_capped(response, max_body_bytes, action, service)
        finally:
            await response.aclose()
    except AomError:
        raise
    except httpx.DecodingError as exc:
        raise AomResponseError(
            f"{service} sent a body that could not be decoded; {action}."
        ) from exc
    except _NETWORK_ERRORS as exc:
        failure = _transport_error(exc, action, service)
        logger.warning(
            "aom.request.failed method=%s path=%s error=%s",
            request.method,
            request.url.path,
            type(exc).__name__,
            extra={"event": "aom.request.failed", "method": request.method},
        )
        raise failure from exc
    status = response.status_code
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "aom.request.completed method=%s path=%s status=%s bytes=%s ms=%.1f request_id=%s",
            request.method,
            request.url.path,
            status,
            len(body),
            (time.perf_counter() - started) * 1000,
            response.headers.get("X-Request-Id"),
            extra={"event": "aom.request.completed", "status": status},
        )
    if 200 <= status < 300:
        return Reply(status, response.headers, body)
    if 300 <= status < 400:
        raise AomResponseError(
            f"{service} answered with a redirect (HTTP {status}), which is not followed; "
            f"could not {action}.",
            status_code=status,
            request_id=_request_id(response.headers),
        )
    error = error_from_response(
        status, response.headers, body, action=action, now=clock(), service=service
    )
    logger.info(
        "aom.request.rejected method=%s path=%s status=%s code=%s request_id=%s",
        request.method,
        request.url.path,
        status,
        error.error_code,
        error.request_id,
        extra={"event": "aom.request.rejected", "status": status},
    )
    raise error


# --- parsing --------------------------------------------------------------------------------


def _bad_body(action: str, reply: Reply, why: str) -> AomResponseError:
    return AomResponseError(
        f"AOM's answer could not be understood ({why}); could not {action}.",
        status_code=reply.status,
        request_id=reply.request_id,
    )


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.error_count():
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"{first['type']} at {where}"
    return type(exc).__name__


def _load_json(reply: Reply, action: str) -> object:
    try:
        return json.loads(reply.body)
    except (ValueError, RecursionError) as exc:
        raise _bad_body(action, reply, "not JSON") from exc


def _validate(parse: Callable[[], T], reply: Reply, action: str) -> T:
    try:
        return parse()
    except (ValueError, TypeError, RecursionError) as exc:  # ValidationError is a ValueError
        raise _bad_body(action, reply, _why(exc)) from exc


class AomClient:
    """Typed access to AOM's automation API for one project.

    ``http`` is the shared client from :func:`build_http_client` (its auth signs or tokenises
    every request); the AomClient owns it from now on and closes it in :meth:`aclose`.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        project_id: str,
        retry: RetryPolicy | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Clock = utc_now,
        logger: logging.Logger | None = None,
    ) -> None:
        self._http = http
        self._project_id = validate_project_id(project_id)
        # An absolute URL saves httpx a second URL parse per request when merging with base_url.
        base = str(http.base_url).rstrip("/")
        self._prefix = f"{base}/v1/{quote(self._project_id, safe='')}/cms"
        self._urls: dict[str, httpx.URL] = {}
        self._retry = retry or RetryPolicy()
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._log = logger or logging.getLogger(LOGGER_NAME)

    def __repr__(self) -> str:
        return f"AomClient(base_url={str(self._http.base_url)!r}, project_id={self._project_id!r})"

    @property
    def project_id(self) -> str:
        return self._project_id

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the shared HTTP client and its connection pool."""
        await self._http.aclose()

    # --- plumbing ---

    def _url(self, *segments: str, query: Sequence[tuple[str, str]] = ()) -> httpx.URL:
        # IDs are validated already; quoting them anyway makes a missed check harmless.
        path = self._prefix + "/" + "/".join(quote(segment, safe="") for segment in segments)
        canonical = canonical_query(query)
        text = f"{path}?{canonical}" if canonical else path
        # httpx checks URLs character by character; the bot polls the same few executions over
        # and over, so parsed URLs are kept (bounded) and reused.
        url = self._urls.get(text)
        if url is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            url = self._urls[text] = httpx.URL(text)
        return url

    async def _send(
        self, method: str, url: httpx.URL, *, action: str, body: object = None, retry: bool = True
    ) -> Reply:
        content = (
            None
            if body is None
            else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )

        async def once() -> Reply:
            request = self._http.build_request(
                method, url, content=content, headers={"Content-Type": "application/json"}
            )
            return await exchange(
                self._http,
                request,
                action=action,
                max_body_bytes=self._max_body_bytes,
                clock=self._clock,
                logger=self._log,
            )

        return await (self._retry.call(once) if retry else once())

    # --- executions ---

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        """The current state of one execution, hosts and logs included."""
        wf = validate_id("workflow ID", workflow_id)
        ex = validate_id("execution ID", execution_id)
        action = f"read execution {ex} of workflow {wf}"
        reply = await self._send(
            "GET", self._url("workflow", wf, "executions", ex, "status"), action=action
        )
        detail = _validate(lambda: ExecutionDetail.model_validate_json(reply.body), reply, action)
        if not detail.execution_id or not detail.workflow_id:
            detail = detail.model_copy(
                update={
                    "execution_id": detail.execution_id or ex,
                    "workflow_id": detail.workflow_id or wf,
                }
            )
        return detail

    async def list_executions(
        self, workflow_id: str, *, enterprise_project_id: str | None = None
    ) -> list[ExecutionDetail]:
        """All executions AOM keeps for a workflow, newest first (AOM's own order is undocumented)."""
        wf = validate_id("workflow ID", workflow_id)
        query = []
        if enterprise_project_id is not None:
            eps = validate_id("enterprise project ID", enterprise_project_id)
            query.append(("x_enterprise_project_id", eps))
        action = f"list executions of workflow {wf}"
        reply = await self._send(
            "GET", self._url("workflow", wf, "executions", query=query), action=action
        )
        data = _load_json(reply, action)
        if not isinstance(data, list):
            raise _bad_body(action, reply, f"expected a JSON array, got {type(data).__name__}")
        items = _validate(
            lambda: [
                ExecutionDetail.model_validate(item) for item in data if isinstance(item, dict)
            ],
            reply,
            action,
        )
        items.sort(key=lambda item: item.begin_time or _OLDEST, reverse=True)
        return items

    async def terminate_execution(self, workflow_id: str, execution_id: str) -> None:
        """Stop a running execution. Success is judged by the HTTP status; the body is ignored."""
        wf = validate_id("workflow ID", workflow_id)
        ex = validate_id("execution ID", execution_id)
        url = self._url("workflow", wf, "executions", ex, "terminate")
        await self._send("POST", url, action=f"terminate execution {ex} of workflow {wf}")
        self._log.info(
            "aom.execution.terminated workflow_id=%s execution_id=%s",
            wf,
            ex,
            extra={"event": "aom.execution.terminated"},
        )

    async def operate_node(
        self, workflow_id: str, execution_id: str, node_id: str, action: NodeAction
    ) -> object:
        """Restart, skip or continue a node; returns AOM's ``result`` (shape undocumented).

        Not retried: a restart or skip sent twice could act twice; re-read the execution instead.
        """
        wf = validate_id("workflow ID", workflow_id)
        ex = validate_id("execution ID", execution_id)
        node = validate_id("node ID", node_id)
        verb = NodeAction(action)
        url = self._url(
            "workflow",
            wf,
            "executions",
            ex,
            "operation",
            query=[("action", verb.value), ("node_id", node)],
        )
        what = f"{verb.value} node {node} of execution {ex}"
        reply = await self._send("POST", url, action=what, retry=False)
        self._log.info(
            "aom.node.operated workflow_id=%s execution_id=%s node_id=%s action=%s",
            wf,
            ex,
            node,
            verb.value,
            extra={"event": "aom.node.operated"},
        )
        if not reply.body.strip():
            return None
        try:
            data = json.loads(reply.body)
        except (ValueError, RecursionError):
            return _clip(reply.body.decode("utf-8", errors="replace"))
        return data.get("result", data) if isinstance(data, dict) else data

    # --- workflows ---

    async def execute_workflow(self, workflow_id: str) -> str:
        """Start a run of a workflow with its stored input; returns the new execution ID.

        Never retried: if this fails with a timeout or 5xx, a run may or may not have started.
        """
        wf = validate_id("workflow ID", workflow_id)
        action = f"start workflow {wf}"
        reply = await self._send(
            "POST", self._url("workflow", wf, "executions"), action=action, retry=False
        )
        data = _load_json(reply, action)
        raw = data.get("execution_id") if isinstance(data, dict) else None
        try:
            execution_id = validate_id("execution ID", raw)
        except InvalidIdError as exc:
            raise _bad_body(action, reply, "no valid execution_id") from exc
        self._log.info(
            "aom.workflow.executed workflow_id=%s execution_id=%s request_id=%s",
            wf,
            execution_id,
            reply.request_id,
            extra={"event": "aom.workflow.executed"},
        )
        return execution_id

    async def list_workflows(
        self, search: str | None = None, *, limit: int | None = None, page_size: int = 50
    ) -> list[Workflow]:
        """Workflows of the project (name/description matching ``search``), most recently updated
        first, following pages until AOM's total, an empty page, or a page with nothing new."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        if limit is not None and limit < 1:
            raise ValueError("limit must be positive")
        criteria: dict[str, object] = {
            "size": page_size,
            "sort_field": "update_time",
            "sort_type": "DESC",
        }
        if search:
            criteria["search"] = _clip(search, 128)
        action = "list workflows"
        found: list[Workflow] = []
        seen: set[str] = set()
        for page_number in range(_MAX_PAGES):
            reply = await self._send(
                "POST",
                self._url("workflow-list"),
                action=action,
                body={"page": page_number, **criteria},
            )
            page = _validate(partial(WorkflowPage.model_validate_json, reply.body), reply, action)
            fresh = [w for w in page.elements if (w.id or repr(w)) not in seen]
            seen.update(w.id or repr(w) for w in fresh)
            found.extend(fresh)
            if not fresh:
                if page.elements:
                    self._log.warning(
                        "aom.workflows.page_repeated page=%s", page_number,
                        extra={"event": "aom.workflows.page_repeated"},
                    )  # fmt: skip
                break
            total = page.total_elements
            if (limit is not None and len(found) >= limit) or (
                total is not None and len(found) >= total
            ):
                break
        return found[:limit] if limit is not None else found
