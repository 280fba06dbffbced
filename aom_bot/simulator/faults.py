"""Fault injection and request counting for the simulated AOM.

``Faults`` is plain mutable configuration: a test changes it between requests and the next request
obeys. Which request gets which fault is decided by hashing (seed, endpoint path, n-th request to
that path), so a run is reproducible even when requests to different executions interleave
differently. ``RequestCounter`` lets tests and benchmarks assert things like "one status request
per execution per poll interval".
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

__all__ = [
    "FaultKind",
    "Faults",
    "RequestCounter",
    "RequestRecord",
    "SimulatedDisconnectError",
    "classify",
    "pick_fault",
]


class FaultKind(StrEnum):
    """Faults that are not a plain error status."""

    DROP = "drop"
    MALFORMED_JSON = "malformed_json"
    HTML_502 = "html_502"


Fault = int | FaultKind
"""An error status to answer with (e.g. 503, 429), or one of :class:`FaultKind`."""


class SimulatedDisconnectError(httpx.RemoteProtocolError):
    """Raised by the app to drop the connection without a response.

    It subclasses httpx's transport error so an in-process ``httpx.ASGITransport`` client sees
    exactly what a real dropped connection produces; under uvicorn any exception after the response
    started makes the server close the socket.
    """


@dataclass(slots=True, kw_only=True)
class Faults:
    """What goes wrong, and how often. Rates are probabilities per request (0-1).

    ``error_rates`` maps a status to its rate, e.g. ``{503: 0.2, 429: 0.1}``: 429 comes with a
    ``Retry-After`` header, 500 with AOM's documented body, others with a gateway-style body.
    ``upcoming`` forces the next requests' faults in order (``None`` = no fault), before any rate
    is consulted: ``Faults(upcoming=[503, FaultKind.DROP])``. ``path_contains`` limits faults to
    matching paths (e.g. ``"/status"``). IAM's token endpoint is never faulted.
    """

    error_rates: dict[int, float] = field(default_factory=dict)
    malformed_json_rate: float = 0.0
    drop_rate: float = 0.0
    html_502_rate: float = 0.0
    latency_seconds: float = 0.0
    retry_after_seconds: int = 1
    upcoming: list[Fault | None] = field(default_factory=list)
    path_contains: str = ""

    def clear(self) -> None:
        """Back to no faults at all."""
        self.error_rates.clear()
        self.malformed_json_rate = self.drop_rate = self.html_502_rate = 0.0
        self.latency_seconds = 0.0
        self.upcoming.clear()
        self.path_contains = ""


def _uniform(seed: int, key: str, n: int) -> float:
    digest = hashlib.sha256(f"{seed}\x1f{key}\x1f{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_fault(faults: Faults, *, seed: int, key: str, n: int) -> Fault | None:
    """The fault for the ``n``-th request to ``key``; consumes ``upcoming`` first."""
    if faults.upcoming:
        forced = faults.upcoming.pop(0)
        # accept plain strings too ("drop"), so a typo fails loudly instead of doing nothing
        return FaultKind(forced) if isinstance(forced, str) else forced
    draw = _uniform(seed, key, n)
    table: list[tuple[Fault, float]] = [
        *sorted(faults.error_rates.items()),
        (FaultKind.DROP, faults.drop_rate),
        (FaultKind.MALFORMED_JSON, faults.malformed_json_rate),
        (FaultKind.HTML_502, faults.html_502_rate),
    ]
    total = 0.0
    for fault, rate in table:
        total += max(rate, 0.0)
        if draw < total:
            return fault
    return None


_ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (method, name, re.compile(pattern))
    for method, name, pattern in (
        ("POST", "workflow-list", r"^/v1/(?P<p>[^/]+)/cms/workflow-list$"),
        ("POST", "execute", r"^/v1/(?P<p>[^/]+)/cms/workflow/(?P<wf>[^/]+)/executions$"),
        ("GET", "list-executions", r"^/v1/(?P<p>[^/]+)/cms/workflow/(?P<wf>[^/]+)/executions$"),
        ("GET", "status", r"^/v1/(?P<p>[^/]+)/cms/workflow/(?P<wf>[^/]+)/executions/(?P<ex>[^/]+)/status$"),
        ("POST", "terminate", r"^/v1/(?P<p>[^/]+)/cms/workflow/(?P<wf>[^/]+)/executions/(?P<ex>[^/]+)/terminate$"),
        ("POST", "operation", r"^/v1/(?P<p>[^/]+)/cms/workflow/(?P<wf>[^/]+)/executions/(?P<ex>[^/]+)/operation$"),
        ("POST", "iam-tokens", r"^/v3/auth/tokens$"),
    )
)  # fmt: skip


def classify(method: str, path: str) -> tuple[str, str, str]:
    """(endpoint name, workflow id, execution id) of a request; ("other", "", "") if unknown."""
    for route_method, name, pattern in _ROUTES:
        match = pattern.match(path)
        if match and method == route_method:
            groups = match.groupdict()
            return name, groups.get("wf") or "", groups.get("ex") or ""
    return "other", "", ""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the simulator received it (before faults and authentication)."""

    at_ms: int
    method: str
    endpoint: str
    workflow_id: str
    execution_id: str


class RequestCounter:
    """Counts requests per endpoint and per execution; keeps the last ``keep`` records."""

    def __init__(self, keep: int = 100_000) -> None:
        self.by_endpoint: Counter[str] = Counter()
        self.by_execution: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self.records: deque[RequestRecord] = deque(maxlen=keep)

    @property
    def total(self) -> int:
        """All requests seen."""
        return sum(self.by_endpoint.values())

    def record(self, at_ms: int, method: str, path: str) -> tuple[RequestRecord, int]:
        """Count a request; returns its record and how many came to this path before it."""
        endpoint, wf, ex = classify(method, path)
        record = RequestRecord(at_ms, method, endpoint, wf, ex)
        key = f"{method} {path}"
        before = self.by_path[key]
        self.by_path[key] += 1
        self.by_endpoint[endpoint] += 1
        if ex:
            self.by_execution[ex] += 1
        self.records.append(record)
        return record, before

    def count(self, endpoint: str, execution_id: str | None = None) -> int:
        """Requests to ``endpoint``, optionally only those about one execution."""
        if execution_id is None:
            return self.by_endpoint[endpoint]
        return sum(
            1 for r in self.records if r.endpoint == endpoint and r.execution_id == execution_id
        )

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.by_endpoint.clear()
        self.by_execution.clear()
        self.by_path.clear()
        self.records.clear()
