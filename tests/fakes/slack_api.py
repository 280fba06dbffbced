"""A fake Slack Web API on 127.0.0.1 that answers as Slack does, for end-to-end tests.

``FakeSlack`` is an aiohttp server holding a small workspace (channels, users, messages,
threads, metadata, files, Home tabs). It records every call, answers errors the Slack way
(HTTP 200 with ``{"ok": false, "error": ...}``, 429 with ``Retry-After``), enforces Block Kit
limits, stands in for ``response_url`` (``/webhook/<id>``), the file upload host
(``/upload/v1/<id>``) and Socket Mode (``apps.connections.open`` + ``/link``).

Example fixture::

    @pytest.fixture
    async def slack() -> AsyncIterator[FakeSlack]:
        async with FakeSlack() as fake:
            yield fake

    async def test_posts(slack: FakeSlack) -> None:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        await client.chat_postMessage(channel=slack.general, text="hi")
        (call,) = await slack.wait_for("chat.postMessage")
        assert slack.messages(slack.general)[-1]["text"] == "hi"

Defaults: bot token ``xoxb-test``, app token ``xapp-test``, user ``U0ALICE`` (alice) and
channel ``C0GENERAL`` (#general, bot and alice are members).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.fakes.response_urls import ResponseUrl, apply_post
from tests.fakes.slack_faults import Breakage, Fault, Faults
from tests.fakes.slack_methods import WebApiMethods
from tests.fakes.slack_state import (
    Channel,
    FakeFile,
    Identity,
    Message,
    SlackError,
    User,
    Workspace,
)
from tests.fakes.socket_mode import FakeSocketMode

__all__ = ["Breakage", "Channel", "FakeSlack", "Identity", "RecordedCall", "ResponseUrl", "User"]

#: Arguments slack_sdk sends as JSON strings inside form/query bodies; decoded when recorded.
JSON_STRING_FIELDS = ("blocks", "attachments", "metadata", "view", "files", "unfurls")
#: Pseudo-method names under which non-API requests are recorded.
RESPONSE_URL = "response_url"
UPLOAD = "files.upload_bytes"


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One request the fake received and what it answered (token and headers kept out of repr)."""

    method: str
    args: dict[str, Any]
    time: float
    status: int
    response: Any = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the fake answered success (``{"ok": true}`` or a 200 webhook/upload)."""
        if isinstance(self.response, dict) and "ok" in self.response:
            return bool(self.response["ok"])
        return self.status == 200


Predicate = Callable[[RecordedCall], bool]


class FakeSlack:
    """Fake Slack Web API server; use as ``async with FakeSlack() as fake``."""

    general = "C0GENERAL"
    alice = "U0ALICE"

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        identity: Identity | None = None,
        chat_write_public: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.identity = identity or Identity()
        self.workspace = Workspace(self.identity, chat_write_public=chat_write_public)
        self.methods = WebApiMethods(self.workspace, origin=lambda: self.origin)
        self.faults = Faults(clock)
        self.socket_mode = FakeSocketMode(origin=lambda: self.origin, app_id=self.identity.app_id)
        self.methods.handlers["apps.connections.open"] = self.socket_mode.open_connection
        self.calls: list[RecordedCall] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        #: Exceptions raised inside the fake's handlers; ``__aexit__`` fails the test on any.
        self.internal_errors: list[str] = []
        self._clock = clock
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self.add_user(self.alice, "alice", "Alice Example")
        self.add_channel("general", id=self.general, members=[self.alice])

    # ---- lifecycle ---------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_post("/webhook/{hook_id}", self._webhook)
        self.socket_mode.install(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, self._sock).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
        if self.internal_errors and exc is None:
            raise AssertionError(f"FakeSlack handler bugs: {self.internal_errors}")

    @property
    def port(self) -> int:
        """The TCP port the fake listens on (after ``__aenter__``)."""
        if self._sock is None:
            raise RuntimeError("FakeSlack is not running; use `async with FakeSlack()`")
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``base_url`` for ``AsyncWebClient``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.origin}/api/"

    # ---- recorded calls ----------------------------------------------------------------
    def calls_to(self, method: str) -> list[RecordedCall]:
        """Calls of one method, oldest first."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        what: str | Predicate,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
    ) -> list[RecordedCall]:
        """Wait until ``count`` recorded calls match (a method name or a predicate); return them."""
        predicate: Predicate = (lambda c: c.method == what) if isinstance(what, str) else what

        def matching() -> list[RecordedCall]:
            return [c for c in self.calls if predicate(c)]

        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(lambda: len(matching()) >= count)
            except TimeoutError:
                seen = [c.method for c in self.calls]
                raise TimeoutError(
                    f"waited {timeout}s for {count} call(s) matching {what!r}; calls seen: {seen}"
                ) from None
        return matching()

    def reset(self) -> None:
        """Forget recorded calls and scripted faults/limits; the workspace is kept."""
        self.calls.clear()
        self.faults.reset()

    # ---- workspace controls ------------------------------------------------------------
    def add_user(self, id: str, name: str, real_name: str = "", *, tz: str = "UTC") -> User:
        """Add a human user."""
        return self.workspace.add_user(User(id, name, real_name, tz=tz))

    def add_usergroup(self, id: str, members: Iterable[str]) -> None:
        """A user group and its members (for the access policy's ``groups``)."""
        self.workspace.usergroups[id] = list(members)

    def add_channel(
        self,
        name: str,
        *,
        id: str | None = None,
        is_private: bool = False,
        bot_member: bool = True,
        members: Iterable[str] = (),
        is_archived: bool = False,
    ) -> Channel:
        """Add a channel; ids default to ``C…`` (public) or ``G…`` (private)."""
        channel_id = id or self.methods.new_id("G" if is_private else "C")
        member_ids = set(members) | ({self.workspace.bot} if bot_member else set())
        return self.workspace.add_channel(
            Channel(channel_id, name, is_private, is_archived, members=member_ids)
        )

    def channel(self, channel_id: str) -> Channel:
        """The live channel object (tests may inspect ``members``)."""
        return self.workspace.channels[channel_id]

    def remove_bot_from(self, channel_id: str) -> None:
        """Kick the bot (e.g. someone ran ``/remove @aom-exec``)."""
        self.workspace.channels[channel_id].members.discard(self.workspace.bot)

    def add_bot_to(self, channel_id: str) -> None:
        """Invite the bot."""
        self.workspace.channels[channel_id].members.add(self.workspace.bot)

    def archive(self, channel_id: str) -> None:
        """Archive a channel: posting then fails with ``is_archived``."""
        self.workspace.channels[channel_id].is_archived = True

    def post_as_user(self, channel_id: str, user: str, text: str) -> str:
        """A human's message (the bot may not update or delete it); returns its ts."""
        channel = self.workspace.channels[channel_id]
        message = self.workspace.post(channel, {"text": text})
        for key in ("bot_id", "app_id"):
            message.pop(key)
        message["user"] = user
        return str(message["ts"])

    def delete_message(self, channel_id: str, ts: str) -> None:
        """Delete any message, as a human or admin would."""
        self.workspace.delete(self.workspace.channels[channel_id], ts, as_bot=False)

    def messages(self, channel_id: str) -> list[Message]:
        """Channel-level messages, oldest first (copies; metadata included)."""
        channel = self.workspace.channels[channel_id]
        return copy.deepcopy(self.workspace.top_level(channel))

    def message(self, channel_id: str, ts: str) -> Message:
        """One message (thread replies too); raises ``SlackError`` if absent."""
        return copy.deepcopy(self.workspace.find(self.workspace.channels[channel_id], ts))

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """Parent then replies, oldest first (copies)."""
        return copy.deepcopy(self.workspace.thread(self.workspace.channels[channel_id], ts))

    def ephemerals(self, channel_id: str) -> list[Message]:
        """chat.postEphemeral messages sent in a channel (never in history)."""
        return copy.deepcopy(self.workspace.channels[channel_id].ephemerals)

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        """Published Home tabs by user id."""
        return self.methods.home_views

    @property
    def files(self) -> dict[str, FakeFile]:
        """Files by id, with uploaded ``content`` and ``shares``."""
        return self.workspace.files

    def response_url(self, channel_id: str, user: str, *, original_ts: str | None = None) -> str:
        """A new ``response_url``; ``original_ts`` is the message a button click came from."""
        hook = ResponseUrl(self.methods.new_id("H"), channel_id, user, original_ts)
        shown = [
            message
            for other in self.response_urls.values()
            if other.channel == channel_id and other.user == user
            for message in other.ephemerals
            if original_ts is not None and message["ts"] == original_ts
        ]
        if shown:  # a click on an ephemeral message: this URL may replace it (same object)
            hook.original_is_ephemeral = True
            hook.ephemerals.append(shown[0])
        self.response_urls[hook.id] = hook
        return f"{self.origin}/webhook/{hook.id}"

    def hook(self, url: str) -> ResponseUrl:
        """The state behind a URL from :meth:`response_url` (posts, ephemerals, uses)."""
        return self.response_urls[url.rstrip("/").rsplit("/", 1)[-1]]

    # ---- fault controls ----------------------------------------------------------------
    def fail_next(
        self, method: str, error: str = "internal_error", *, status: int = 200, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        self.faults.script(method, Fault(status, error), times)

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls with 429, ``Retry-After`` and ``ratelimited``."""
        self.faults.script(method, Fault(429, "ratelimited", retry_after=retry_after), times)

    def break_method(
        self, method: str, how: Breakage = Breakage.SERVER_ERROR, *, times: int | None = None
    ) -> None:
        """Answer HTTP 500 or a non-JSON 200 body (``times=None``: until :meth:`heal`)."""
        self.faults.script(
            method, Fault(500 if how is Breakage.SERVER_ERROR else 200, breakage=how), times
        )

    def heal(self, method: str | None = None) -> None:
        """Drop scripted faults for ``method`` (or all)."""
        self.faults.clear(method)

    def set_rate_limit(self, method: str, *, per_minute: float, burst: int = 1) -> None:
        """Token bucket over all calls of ``method`` (Slack tier), on the injected clock."""
        self.faults.limit_method(method, per_minute, burst)

    def set_channel_rate_limit(
        self, method: str = "chat.postMessage", *, per_minute: float = 60, burst: int = 1
    ) -> None:
        """Token bucket per channel (chat.postMessage allows ~1 message/s per channel)."""
        self.faults.limit_channel(method, per_minute, burst)

    @property
    def rate_limited_count(self) -> int:
        """How many 429 responses were sent."""
        return self.faults.rate_limited_total

    # ---- HTTP handlers -----------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        headers = dict(request.headers)
        try:
            args = await _parse_args(request)
        except SlackError as exc:
            return await self._answer(method, {}, headers, None, 200, _error_body(exc))
        token = _bearer(headers) or args.pop("token", None)
        args.pop("token", None)
        channel = args.get("channel") or args.get("channel_id")
        fault = self.faults.check(method, channel if isinstance(channel, str) else None)
        if fault is not None:
            return await self._fault(method, args, headers, token, fault)
        try:
            self._authorize(method, token)
            handler = self.methods.handlers.get(method)
            if handler is None:
                return await self._answer(
                    method, args, headers, token, 404, {"ok": False, "error": "unknown_method"}
                )
            body: dict[str, Any] = {"ok": True, **handler(args)}
        except SlackError as exc:
            body = _error_body(exc)
        except Exception as exc:  # a bug in the fake, not a Slack answer: fail the test loudly
            self.internal_errors.append(f"{method}: {exc!r}")
            await self._record(method, args, headers, token, 500, "fake internal error")
            return web.Response(status=500, text="fake internal error")
        return await self._answer(method, args, headers, token, 200, body)

    def _authorize(self, method: str, token: object) -> None:
        if not token:
            raise SlackError("not_authed")
        wanted, other = (
            (self.app_token, self.bot_token)
            if method == "apps.connections.open"
            else (self.bot_token, self.app_token)
        )
        if token == other:
            raise SlackError("not_allowed_token_type")
        if token != wanted:
            raise SlackError("invalid_auth")

    async def _fault(
        self,
        method: str,
        args: dict[str, Any],
        headers: dict[str, str],
        token: str | None,
        fault: Fault,
    ) -> web.StreamResponse:
        if fault.breakage is Breakage.MALFORMED:
            text = "<html><body>upstream connect error</body></html>"
            await self._record(method, args, headers, token, fault.status, text)
            return web.Response(status=fault.status, text=text, content_type="text/html")
        if fault.breakage is Breakage.SERVER_ERROR:
            await self._record(method, args, headers, token, fault.status, "Internal Server Error")
            return web.Response(status=fault.status, text="Internal Server Error")
        extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        body = {"ok": False, "error": fault.error}
        return await self._answer(method, args, headers, token, fault.status, body, extra)

    async def _answer(
        self,
        method: str,
        args: dict[str, Any],
        headers: dict[str, str],
        token: str | None,
        status: int,
        body: dict[str, Any],
        extra_headers: Mapping[str, str] | None = None,
    ) -> web.StreamResponse:
        await self._record(method, args, headers, token, status, body)
        return web.json_response(body, status=status, headers=extra_headers)

    async def _record(
        self,
        method: str,
        args: dict[str, Any],
        headers: dict[str, str],
        token: str | None,
        status: int,
        response: Any,
    ) -> None:
        call = RecordedCall(method, args, self._clock(), status, response, headers, token)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        content = await request.read()
        file = self.workspace.files.get(file_id)
        args = {"file_id": file_id, "content": content}
        if file is None:
            await self._record(UPLOAD, args, dict(request.headers), None, 404, "file_not_found")
            return web.Response(status=404, text="file_not_found")
        file.content = content
        text = f"OK - {len(content)}"
        await self._record(UPLOAD, args, dict(request.headers), None, 200, text)
        return web.Response(text=text)

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        hook = self.response_urls.get(request.match_info["hook_id"])
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        if hook is None:
            status, text = 404, "no_service"
        else:
            status, text = apply_post(hook, body, self.workspace)
        args = body if isinstance(body, dict) else {"raw": raw.decode(errors="replace")}
        args = {**args, "hook_id": request.match_info["hook_id"]}
        await self._record(RESPONSE_URL, args, dict(request.headers), None, status, text)
        return web.Response(status=status, text=text)


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _error_body(exc: SlackError) -> dict[str, Any]:
    return {"ok": False, "error": exc.code, **exc.extra}


async def _parse_args(request: web.Request) -> dict[str, Any]:
    """Merge query string, form and JSON body the way Slack accepts arguments."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.read()
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(payload, dict):
                raise SlackError("invalid_json")
            args.update(payload)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in JSON_STRING_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            # Undecodable: left as a string, so validation answers e.g. invalid_blocks_format.
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)
    return args
