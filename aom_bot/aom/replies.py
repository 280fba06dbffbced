"""Reading AOM's 2xx answers: JSON decoded, models validated, and a garbled body as one error.

An answer AOM sent with a success status but that cannot be understood becomes an
:class:`~aom_bot.errors.AomResponseError` that says why (not JSON, the first failed field) and
carries AOM's request ID; the follow engine treats it as transient, like an outage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from aom_bot.aom.fastparse import HostCache, decode_json, execution_from_data, execution_from_json
from aom_bot.aom.http import Reply
from aom_bot.aom.models import ExecutionDetail
from aom_bot.aom.rawparse import execution_from_body
from aom_bot.errors import AomResponseError

__all__ = [
    "bad_body",
    "decode",
    "execution_in_body",
    "execution_of",
    "load_json",
    "validate",
    "why_invalid",
    "with_ids",
]

T = TypeVar("T")


def bad_body(action: str, reply: Reply, why: str) -> AomResponseError:
    """The error for an answer that could not be understood, saying ``why``."""
    return AomResponseError(
        f"AOM's answer could not be understood ({why}); could not {action}.",
        status_code=reply.status,
        request_id=reply.request_id,
    )


def why_invalid(exc: Exception) -> str:
    """The first failed field of a validation error (``type at loc``), else the error's type."""
    if isinstance(exc, ValidationError) and exc.error_count():
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"{first['type']} at {where}"
    return type(exc).__name__


def decode(reply: Reply, action: str, why: str = "not JSON") -> tuple[object, bool]:
    """The body as JSON, and whether its hosts may be cached (see ``fastparse.decode_json``)."""
    try:
        return decode_json(reply.body)
    except (ValueError, RecursionError) as exc:
        raise bad_body(action, reply, why) from exc


def load_json(reply: Reply, action: str) -> object:
    """The body as JSON."""
    return decode(reply, action)[0]


def execution_of(
    reply: Reply, action: str, cache: HostCache | None, *, lean: bool = False
) -> ExecutionDetail:
    """The execution in the body: the usual body straight from its bytes (hosts reused from
    ``cache``), an odd one (NaN, bad UTF-8…) by the dict path, which says what is wrong.

    ``lean``: a run still going on is read lean (``rawparse.execution_from_body``), a finished
    one whole (its final card and report read every host)."""
    detail = execution_from_body(reply.body, cache, lean=lean)
    if detail is not None and lean and detail.is_terminal:
        detail = execution_from_body(reply.body, cache)
    if detail is None:
        data, cacheable = decode(reply, action, "json_invalid at body")
        hosts = cache if cacheable else None
        detail = validate(lambda: execution_from_data(data, hosts), reply, action)
    return detail


def validate(parse: Callable[[], T], reply: Reply, action: str) -> T:
    """``parse()``, with a parsing or validation failure raised as :func:`bad_body`."""
    try:
        return parse()
    except (ValueError, TypeError, RecursionError) as exc:  # ValidationError is a ValueError
        raise bad_body(action, reply, why_invalid(exc)) from exc


def with_ids(detail: ExecutionDetail, workflow_id: str, execution_id: str) -> ExecutionDetail:
    """``detail`` with the IDs it was asked by when AOM's body leaves them out."""
    if detail.execution_id and detail.workflow_id:
        return detail
    return detail.model_copy(update={"execution_id": detail.execution_id or execution_id,
                                     "workflow_id": detail.workflow_id or workflow_id})  # fmt: skip


def execution_in_body(body: bytes, workflow_id: str, execution_id: str) -> ExecutionDetail | None:
    """The whole execution in a body read before (a watch's kept body), as the client read it;
    ``None`` if it cannot be read (it could when polled, so this does not happen)."""
    try:
        detail = execution_from_json(body)
    except (ValueError, TypeError, RecursionError):
        return None
    return with_ids(detail, workflow_id, execution_id)
