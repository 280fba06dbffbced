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

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from types import TracebackType
from typing import Self
from urllib.parse import quote

import httpx

from aom_bot.aom.auth import UtcNow, utc_now
from aom_bot.aom.fastparse import HostCache, body_digest, execution_from_data
from aom_bot.aom.http import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT,
    LOGGER_NAME,
    Reply,
    RetryPolicy,
    build_http_client,
    clip_text,
    error_details,
    error_from_response,
    exchange,
    parse_retry_after,
)
from aom_bot.aom.ids import validate_id, validate_project_id
from aom_bot.aom.limiter import RequestLimiter
from aom_bot.aom.models import ExecutionDetail, NodeAction, Workflow, WorkflowPage
from aom_bot.aom.reachability import Reachability
from aom_bot.aom.reader import Polled
from aom_bot.aom.replies import bad_body, decode, execution_of, load_json, validate, with_ids
from aom_bot.aom.signing import canonical_query
from aom_bot.aom.wire import new_request
from aom_bot.errors import AomError, InvalidIdError

# The HTTP names are re-exported: callers and tests import them from here.
__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT",
    "LOGGER_NAME",
    "AomClient",
    "NodeAction",
    "Reply",
    "RetryPolicy",
    "build_http_client",
    "error_details",
    "error_from_response",
    "exchange",
    "parse_retry_after",
]

_MAX_PAGES = 1000


@lru_cache(maxsize=16_384)  # the URLs of 10,000 follows fit (~0.5 KB each), least recently used out
def _url_of(
    prefix: str, segments: tuple[str, ...], query: tuple[tuple[str, str], ...]
) -> httpx.URL:
    """The request URL of ``prefix`` and the unquoted path segments and query, kept: httpx
    checks URLs character by character, and the bot polls the same executions over and over."""
    # IDs are validated already; quoting them anyway makes a missed check harmless.
    path = prefix + "/" + "/".join(quote(segment, safe="") for segment in segments)
    canonical = canonical_query(query)
    return httpx.URL(f"{path}?{canonical}" if canonical else path)


_OLDEST = datetime.min.replace(tzinfo=UTC)


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
        clock: UtcNow = utc_now,
        logger: logging.Logger | None = None,
        limiter: RequestLimiter | None = None,
        reachability: Reachability | None = None,
    ) -> None:
        self._http = http
        self._limiter = limiter
        #: whether AOM answered this client's last request (shared by a profile's clients)
        self.reachability = reachability or Reachability()
        self._project_id = validate_project_id(project_id)
        # An absolute URL saves httpx a second URL parse per request when merging with base_url.
        base = str(http.base_url).rstrip("/")
        self._prefix = f"{base}/v1/{quote(self._project_id, safe='')}/cms"
        # Hosts of earlier polls, reused when a body repeats them (see fastparse.HostCache).
        self._hosts = HostCache()
        self._retry = retry or RetryPolicy()
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._log = logger or logging.getLogger(LOGGER_NAME)
        #: auths replaced by :meth:`replace_auth`, closed with the client (a request in flight
        #: may still be using one: a 401 makes it ask its token source again)
        self._retired_auths: list[httpx.Auth] = []

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
        """Close the shared HTTP client and its connection pool (and the IAM clients, if any)."""
        auths = [*self._retired_auths, self._http.auth]
        self._retired_auths.clear()
        await self._http.aclose()
        for auth in auths:
            close_auth = getattr(auth, "aclose", None)
            if close_auth is not None:
                await close_auth()

    def replace_auth(self, auth: httpx.Auth) -> None:
        """Sign or tokenise every request from now on with ``auth`` (rotated credentials);
        the connection pool, limiter and caches stay. The old auth is closed with the client."""
        old = self._http.auth
        self._http.auth = auth
        if old is not None:
            self._retired_auths.append(old)

    # --- plumbing ---

    def _url(self, *segments: str, query: Sequence[tuple[str, str]] = ()) -> httpx.URL:
        return _url_of(self._prefix, segments, tuple(query))

    async def _send(
        self, method: str, url: httpx.URL, *, action: str, body: object = None, retry: bool = True
    ) -> Reply:
        content = (
            None
            if body is None
            else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )

        async def once() -> Reply:
            if self._limiter is not None:
                await self._limiter.acquire()
            request = new_request(self._http, method, url, content)
            try:
                reply = await exchange(
                    self._http,
                    request,
                    action=action,
                    max_body_bytes=self._max_body_bytes,
                    clock=self._clock,
                    logger=self._log,
                )
            except AomError as error:
                self.reachability.failed(error)
                raise
            self.reachability.answered()
            return reply

        return await (self._retry.call(once) if retry else once())

    # --- executions ---

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        """The current state of one execution, hosts and logs included."""
        polled = await self._poll(workflow_id, execution_id, None, lean=False)
        assert polled.execution is not None  # no digest to compare with: always parsed
        return polled.execution

    async def get_execution_if_changed(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> tuple[bytes, ExecutionDetail | None]:
        """The body's digest, and the execution unless the body is the one of ``previous_digest``.

        For pollers: keep the digest (16 bytes) of the last body; an unchanged body is then
        neither decoded nor parsed (``None`` comes back instead of a model), and its card cannot
        have changed either. Time-dependent wording aside, the last snapshot stays valid.
        """
        polled = await self._poll(workflow_id, execution_id, previous_digest, lean=False)
        return polled.digest, polled.execution

    async def poll_execution(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> Polled:
        """:meth:`get_execution_if_changed` with the body, lean while the run goes on."""
        return await self._poll(workflow_id, execution_id, previous_digest, lean=True)

    async def _poll(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None, *, lean: bool
    ) -> Polled:
        wf = validate_id("workflow ID", workflow_id)
        ex = validate_id("execution ID", execution_id)
        action = f"read execution {ex} of workflow {wf}"
        reply = await self._send(
            "GET", self._url("workflow", wf, "executions", ex, "status"), action=action
        )
        digest = body_digest(reply.body)
        if previous_digest is not None and digest == previous_digest:
            return Polled(digest, reply.body, None)
        return Polled(digest, reply.body, self._execution(reply, wf, ex, action, lean=lean))

    def _execution(
        self, reply: Reply, wf: str, ex: str, action: str, *, lean: bool = False
    ) -> ExecutionDetail:
        return with_ids(execution_of(reply, action, self._hosts, lean=lean), wf, ex)

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
        data, cacheable = decode(reply, action)
        if not isinstance(data, list):
            raise bad_body(action, reply, f"expected a JSON array, got {type(data).__name__}")
        cache = self._hosts if cacheable else None
        items = validate(
            lambda: [execution_from_data(item, cache) for item in data if isinstance(item, dict)],
            reply,
            action,
        )
        items.sort(key=lambda item: item.begin_time or _OLDEST, reverse=True)
        return items

    async def terminate_execution(self, workflow_id: str, execution_id: str) -> str | None:
        """Stop a running execution; returns AOM's request ID. Success is judged by the HTTP
        status; the body is ignored."""
        wf = validate_id("workflow ID", workflow_id)
        ex = validate_id("execution ID", execution_id)
        url = self._url("workflow", wf, "executions", ex, "terminate")
        reply = await self._send("POST", url, action=f"terminate execution {ex} of workflow {wf}")
        self._log.info(
            "aom.execution.terminated workflow_id=%s execution_id=%s",
            wf,
            ex,
            extra={"event": "aom.execution.terminated"},
        )
        return reply.request_id

    async def operate_node(
        self, workflow_id: str, execution_id: str, node_id: str, action: NodeAction
    ) -> object:
        """Restart, skip or continue a node; returns AOM's ``result`` (shape undocumented).

        Not retried: a restart or skip sent twice could act twice; re-read the execution instead.
        """
        result, _ = await self.operate_node_with_id(workflow_id, execution_id, node_id, action)
        return result

    async def operate_node_with_id(
        self, workflow_id: str, execution_id: str, node_id: str, action: NodeAction
    ) -> tuple[object, str | None]:
        """:meth:`operate_node`, and AOM's request ID (for the audit log)."""
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
        rid = reply.request_id
        if not reply.body.strip():
            return None, rid
        try:
            data = json.loads(reply.body)
        except (ValueError, RecursionError):
            return clip_text(reply.body.decode("utf-8", errors="replace")), rid
        return (data.get("result", data) if isinstance(data, dict) else data), rid

    # --- workflows ---

    async def execute_workflow(self, workflow_id: str) -> str:
        """Start a run of a workflow with its stored input; returns the new execution ID.

        Never retried: if this fails with a timeout or 5xx, a run may or may not have started.
        """
        execution_id, _ = await self.execute_workflow_with_id(workflow_id)
        return execution_id

    async def execute_workflow_with_id(self, workflow_id: str) -> tuple[str, str | None]:
        """:meth:`execute_workflow`, and AOM's request ID (for the audit log)."""
        wf = validate_id("workflow ID", workflow_id)
        action = f"start workflow {wf}"
        reply = await self._send(
            "POST", self._url("workflow", wf, "executions"), action=action, retry=False
        )
        data = load_json(reply, action)
        raw = data.get("execution_id") if isinstance(data, dict) else None
        try:
            execution_id = validate_id("execution ID", raw)
        except InvalidIdError as exc:
            raise bad_body(action, reply, "no valid execution_id") from exc
        self._log.info(
            "aom.workflow.executed workflow_id=%s execution_id=%s request_id=%s",
            wf,
            execution_id,
            reply.request_id,
            extra={"event": "aom.workflow.executed"},
        )
        return execution_id, reply.request_id

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
            criteria["search"] = clip_text(search, 128)
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
            page = validate(partial(WorkflowPage.model_validate_json, reply.body), reply, action)
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
