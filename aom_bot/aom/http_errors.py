"""What a failed AOM or IAM exchange means: the error body read, the status mapped to AomError.

Error bodies follow reference §9.2 loosely (several spellings of code and message, sometimes one
object down), so they are read by a robust rule; a network failure becomes an
:class:`~aom_bot.errors.AomTransportError` that says whether the service was slow or unreachable.

>>> error_details(b'{"error_code": "AOM.0404", "error_msg": "no such workflow"}')
('AOM.0404', 'no such workflow')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import httpx

from aom_bot.errors import (
    AomApiError,
    AomAuthError,
    AomBadRequestError,
    AomNotFoundError,
    AomServerError,
    AomThrottledError,
    AomTransportError,
)

__all__ = [
    "clip_text",
    "error_details",
    "error_from_response",
    "parse_retry_after",
    "request_id_of",
    "transport_error",
]

_SHOWN_TEXT = 300
_CODE_KEYS = ("error_code", "errorCode", "code")
_MESSAGE_KEYS = ("error_msg", "error_message", "errorMsg", "message")


def clip_text(text: str, limit: int = _SHOWN_TEXT) -> str:
    """``text`` on one printable line of at most ``limit`` characters, fit for a message."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _pick(obj: Mapping[str, object], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return clip_text(value)
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
    return None, (clip_text(text) or None)


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


def request_id_of(headers: Mapping[str, str], body_request_id: object = None) -> str | None:
    rid = headers.get("X-Request-Id") or headers.get("X-IAM-Trace-Id")
    if rid:
        return clip_text(rid, 80)
    return clip_text(body_request_id, 80) if isinstance(body_request_id, str) else None


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
    rid = request_id_of(headers, body_rid)
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


def transport_error(exc: BaseException, action: str, service: str) -> AomTransportError:
    if _is_timeout(exc):
        return AomTransportError(f"{service} did not answer in time; could not {action}.")
    shown = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    detail = clip_text(str(shown), 120)
    reason = f"{type(shown).__name__}: {detail}" if detail else type(shown).__name__
    return AomTransportError(f"Could not reach {service} to {action} ({reason}).")
