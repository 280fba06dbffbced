"""HTTP plumbing for AOM and IAM: the shared client, read retries, and one exchange.

One ``exchange`` sends a request, reads a capped body and turns every failure into an
``aom_bot.errors.AomError`` (what a failure means is in :mod:`aom_bot.aom.http_errors`, which
proxy reaches AOM in :mod:`aom_bot.aom.proxy`); ``RetryPolicy`` retries reads with stamina
(backoff, jitter, ``Retry-After``). The typed API on top of this lives in ``aom_bot.aom.client``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import httpx
import stamina
from httpx_aiohttp import AiohttpTransport

from aom_bot.aom.auth import UtcNow
from aom_bot.aom.http_errors import (
    clip_text,
    error_details,
    error_from_response,
    parse_retry_after,
    request_id_of,
    transport_error,
)
from aom_bot.aom.proxy import proxy_for
from aom_bot.aom.wire import AomHttpClient, send
from aom_bot.errors import (
    AomBodyTooLargeError,
    AomError,
    AomResponseError,
    AomServerError,
    AomThrottledError,
    AomTransportError,
)

# The error helpers and proxy_for are re-exported: callers and tests import them from here.
__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT",
    "LOGGER_NAME",
    "DeadlineExceeded",
    "Reply",
    "RetryPolicy",
    "build_http_client",
    "clip_text",
    "error_details",
    "error_from_response",
    "exchange",
    "parse_retry_after",
    "proxy_for",
    "request_deadline",
]

T = TypeVar("T")

LOGGER_NAME = "aom_bot.aom"
#: the read timeout is also the deadline of a whole request (a 9 MB execution detail fits)
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=10.0)
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=50, keepalive_expiry=30
)
#: the largest body accepted (2,000 hosts with 4 KB logs are about 9 MB)
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024

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
    request; tests pass ``httpx.MockTransport`` or ``httpx.ASGITransport`` instead. It goes
    through the proxy that :func:`proxy_for` picks for ``base_url`` (HTTPS_PROXY, NO_PROXY…).
    """
    if transport is None:
        proxy = proxy_for(base_url)
        transport = AiohttpTransport(limits=limits, proxy=httpx.Proxy(proxy) if proxy else None)
    return AomHttpClient(
        base_url=base_url,
        auth=auth,
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"Accept": "application/json", "User-Agent": "aom-bot"},
    )


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
            # a spent deadline is not retried: one deadline bounds the whole request
            return not isinstance(exc.__cause__, httpx.UnsupportedProtocol | DeadlineExceeded)
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


# --- one HTTP exchange ----------------------------------------------------------------------


class DeadlineExceeded(TimeoutError):
    """The whole exchange (connecting, sending, the whole answer) took longer than its deadline.

    httpx's timeouts apply per socket operation, so a body trickling one byte at a time would
    never time out; this deadline bounds the request as a whole.
    """


def request_deadline(http: httpx.AsyncClient) -> float | None:
    """The whole-request deadline of ``http``: its read timeout (``AOM_TIMEOUT_SECONDS``)."""
    return http.timeout.read


def _logged(
    exc: BaseException,
    request: httpx.Request,
    action: str,
    service: str,
    logger: logging.Logger,
) -> AomTransportError:
    failure = transport_error(exc, action, service)
    logger.warning(
        "aom.request.failed method=%s path=%s error=%s",
        request.method,
        request.url.path,
        type(exc).__name__,
        extra={"event": "aom.request.failed", "method": request.method},
    )
    return failure


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful (2xx) answer, read in full."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def request_id(self) -> str | None:
        return request_id_of(self.headers)


async def _read_capped(response: httpx.Response, limit: int, action: str, service: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    size = int(declared) if declared.isdigit() and int(declared) > limit else 0
    chunks: list[bytes] = []
    if not size:
        # Without a Content-Encoding the raw bytes are the body: skip httpx's decoder layer
        # (a response built with its content, as tests do, has no raw stream left).
        raw = not response.is_stream_consumed and "Content-Encoding" not in response.headers
        async for chunk in response.aiter_raw() if raw else response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
    if size > limit:
        raise AomBodyTooLargeError(
            f"{service} sent more than {limit // (1024 * 1024)} MB; refused to {action}.",
            status_code=response.status_code,
            request_id=request_id_of(response.headers),
        )
    return b"".join(chunks)


async def exchange(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    action: str,
    max_body_bytes: int,
    clock: UtcNow,
    logger: logging.Logger,
    service: str = "AOM",
    deadline: float | None = None,
) -> Reply:
    """Send ``request`` once, read at most ``max_body_bytes``, and map every failure to AomError.

    The exchange as a whole must end within ``deadline`` seconds (by default the client's read
    timeout, see :func:`request_deadline`), however slowly the answer trickles in.
    """
    started = time.perf_counter()
    limit = deadline if deadline is not None else request_deadline(http)
    try:
        async with asyncio.timeout(limit) as scope:
            response = await send(http, request)
            try:
                body = await _read_capped(response, max_body_bytes, action, service)
            finally:
                await response.aclose()
    except AomError:
        raise
    except TimeoutError as exc:
        if not scope.expired():
            raise _logged(exc, request, action, service, logger) from exc
        logger.warning(
            "aom.request.deadline method=%s path=%s seconds=%s",
            request.method,
            request.url.path,
            limit,
            extra={"event": "aom.request.deadline", "method": request.method},
        )
        raise AomTransportError(
            f"{service} did not answer in time ({limit:g} s); could not {action}."
        ) from DeadlineExceeded()
    except httpx.DecodingError as exc:
        raise AomResponseError(
            f"{service} sent a body that could not be decoded; {action}."
        ) from exc
    except _NETWORK_ERRORS as exc:
        raise _logged(exc, request, action, service, logger) from exc
    if logger.isEnabledFor(logging.DEBUG):
        _log_completed(logger, request, response, body, started)
    return _answer(request, response, body, action, clock, logger, service)


def _log_completed(
    logger: logging.Logger,
    request: httpx.Request,
    response: httpx.Response,
    body: bytes,
    started: float,
) -> None:
    status = response.status_code
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


def _answer(
    request: httpx.Request,
    response: httpx.Response,
    body: bytes,
    action: str,
    clock: UtcNow,
    logger: logging.Logger,
    service: str,
) -> Reply:
    """A 2xx answer as a :class:`Reply`; a redirect or an error status raised as AomError."""
    status = response.status_code
    if 200 <= status < 300:
        return Reply(status, response.headers, body)
    if 300 <= status < 400:
        raise AomResponseError(
            f"{service} answered with a redirect (HTTP {status}), which is not followed; "
            f"could not {action}.",
            status_code=status,
            request_id=request_id_of(response.headers),
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
