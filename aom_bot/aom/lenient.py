"""Lenient coercions for AOM's inconsistent JSON: a value of the wrong type degrades to "unknown".

Numbers come as strings, times as epoch milliseconds (int *or* string) or ISO text, lists as a
single string; each coercion here accepts them all and never raises. The models
(:mod:`aom_bot.aom.models`) and the fast parser (:mod:`aom_bot.aom.fastparse`) share them, so
both read a body the same way. Pure data: no I/O.

>>> to_optional_int("42"), to_optional_int("4.2e1"), to_optional_int("n/a")
(42, 42, None)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = [
    "MAX_EPOCH_MS",
    "LenientBool",
    "LenientInt",
    "LenientStr",
    "LenientTime",
    "StrList",
    "is_bucket",
    "list_of_objects",
    "object_or_empty",
    "split_buckets",
    "to_bool",
    "to_optional_int",
    "to_optional_time",
    "to_str",
    "to_str_list",
]


def to_str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    return ""


def to_optional_int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            return int(number) if math.isfinite(number) else None
    return None


# Epoch milliseconds outside this window are garbage, not times (year 1970..2200).
MAX_EPOCH_MS = 7_258_118_400_000


def to_optional_time(value: object) -> datetime | None:
    if isinstance(value, str):
        text = value.strip()
        if text and not text.lstrip("-").replace(".", "", 1).isdigit():
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    millis = to_optional_int(value)
    if millis is None or millis <= 0 or millis > MAX_EPOCH_MS:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def to_str_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [s for s in (to_str(v) for v in value) if s]
    return []


def to_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def ms_serializer(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


LenientStr = Annotated[str, BeforeValidator(to_str)]
LenientInt = Annotated[int | None, BeforeValidator(to_optional_int)]
LenientTime = Annotated[
    datetime | None,
    BeforeValidator(to_optional_time),
    PlainSerializer(ms_serializer, return_type=str | None),
]
StrList = Annotated[list[str], BeforeValidator(to_str_list)]
LenientBool = Annotated[bool | None, BeforeValidator(to_bool)]


def object_or_empty(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def list_of_objects(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def is_bucket(value: object) -> bool:
    """A list of host objects (an empty list too); a ``null`` bucket or a counter is not."""
    return isinstance(value, list) and (not value or any(isinstance(item, dict) for item in value))


def split_buckets(
    output: dict[Any, Any],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Judge each key of a node's output on its own: host lists are buckets, the rest metadata.

    One odd key (``"in_execution": null``, ``"skipped_meta": {…}``) must never make the
    node's other buckets, and so its failed hosts, disappear.
    """
    buckets: dict[str, list[dict[str, Any]]] = {}
    meta: dict[str, Any] = {}
    for name, value in output.items():
        if is_bucket(value):
            buckets[str(name)] = list_of_objects(value)
        else:
            meta[str(name)] = value
    return buckets, meta
