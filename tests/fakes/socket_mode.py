"""A local fake of Slack's Socket Mode, served by the same aiohttp app as ``FakeSlack``.

``apps.connections.open`` (xapp token) returns a single-use ``ws://127.0.0.1:PORT/link?ticket=…``
URL. On connect the fake sends ``hello``; tests then push envelopes (slash commands,
interactive payloads, Events API) and get back the client's ack payload, exactly as Slack
waits for it: within 3 seconds or the delivery counts as failed. ``disconnect`` makes the
SDK fetch a new URL and reconnect.

Example::

    async with FakeSlack() as fake:
        handler = AsyncSocketModeHandler(app, app_token=fake.app_token)
        await handler.connect_async()
        await fake.socket_mode.wait_connected()
        ack = await fake.socket_mode.deliver_slash_command(slash_command_fields("help", ...))
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

ACK_TIMEOUT = 3.0


class AckTimeoutError(TimeoutError):
    """The client did not ack an envelope in time (Slack would show the user an error)."""


class FakeSocketMode:
    """Socket Mode endpoint: tickets, connections, envelope delivery and acks."""

    def __init__(self, *, origin: Callable[[], str], app_id: str) -> None:
        self._origin = origin
        self._app_id = app_id
        self._tickets: set[str] = set()
        self._open: list[web.WebSocketResponse] = []
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self.connection_count = 0
        self.acks: list[dict[str, Any]] = []
        self.unexpected: list[str] = []

    def install(self, app: web.Application) -> None:
        """Add the ``/link`` WebSocket route to the fake's aiohttp app."""
        app.router.add_get("/link", self._link)

    def open_connection(self, args: dict[str, Any]) -> dict[str, Any]:
        """``apps.connections.open``: a fresh single-use WebSocket URL."""
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        ws_origin = self._origin().replace("http://", "ws://", 1)
        return {"url": f"{ws_origin}/link?ticket={ticket}&app_id={self._app_id}"}

    @property
    def open_connections(self) -> int:
        """Currently open WebSocket connections."""
        return len(self._open)

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` connections were ever made and one is open now."""
        async with self._changed:
            async with asyncio.timeout(timeout):
                await self._changed.wait_for(
                    lambda: self.connection_count >= count and bool(self._open)
                )

    async def deliver(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        timeout: float = ACK_TIMEOUT,  # noqa: ASYNC109 - Slack's ack deadline
        to: int = -1,
        **extra: Any,
    ) -> dict[str, Any]:
        """Send one envelope to one connection (``to``: its index in connection order, default the
        newest; Slack gives each envelope to one of an app's connections); return the ack's
        ``payload`` (or ``{}``)."""
        if not self._open:
            raise RuntimeError("no open Socket Mode connection; await wait_connected() first")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            **extra,
        }
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = future
        try:
            await self._open[to].send_str(json.dumps(envelope))
            async with asyncio.timeout(timeout):
                ack = await future
        except TimeoutError:
            raise AckTimeoutError(
                f"no ack for {envelope_type} envelope {envelope_id} within {timeout}s"
            ) from None
        finally:
            self._pending.pop(envelope_id, None)
        ack_payload = ack.get("payload")
        return ack_payload if isinstance(ack_payload, dict) else {}

    async def deliver_slash_command(
        self,
        body: dict[str, str],
        *,
        timeout: float = ACK_TIMEOUT,  # noqa: ASYNC109
        to: int = -1,
    ) -> dict[str, Any]:
        """A slash command (form fields as a dict); returns the ack body (e.g. ``text``)."""
        return await self.deliver(
            "slash_commands", body, accepts_response_payload=True, timeout=timeout, to=to
        )

    async def deliver_interactive(
        self,
        payload: dict[str, Any],
        *,
        timeout: float = ACK_TIMEOUT,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """A block_actions / view_submission payload (the decoded ``payload`` JSON)."""
        return await self.deliver(
            "interactive",
            payload,
            accepts_response_payload=payload.get("type") == "view_submission",
            timeout=timeout,
        )

    async def deliver_event(
        self,
        event_callback: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = ACK_TIMEOUT,  # noqa: ASYNC109 - Slack's ack deadline
    ) -> dict[str, Any]:
        """An Events API ``event_callback`` body; Slack retries carry ``retry_attempt``."""
        return await self.deliver(
            "events_api",
            event_callback,
            accepts_response_payload=False,
            timeout=timeout,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message to the newest connection."""
        if not self._open:
            raise RuntimeError("no open Socket Mode connection")
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        await self._open[-1].send_str(json.dumps(message))

    async def close(self) -> None:
        """Close every open connection (the fake is shutting down)."""
        for ws in list(self._open):
            await ws.close()

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid_ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)  # answers the SDK's keep-alive pings
        await ws.prepare(request)
        async with self._changed:
            self._open.append(ws)
            self.connection_count += 1
            self._changed.notify_all()
        await ws.send_str(json.dumps(self._hello()))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(message.data)
        finally:
            async with self._changed:
                self._open.remove(ws)
                self._changed.notify_all()
        return ws

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self._open),
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self._app_id},
        }

    def _on_text(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            self.unexpected.append(data)
            return
        future = self._pending.get(ack.get("envelope_id", "")) if isinstance(ack, dict) else None
        if future is None or future.done():
            self.unexpected.append(data)
            return
        self.acks.append(ack)
        future.set_result(ack)
