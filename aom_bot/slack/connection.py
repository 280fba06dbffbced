"""Whether the Socket Mode WebSocket to Slack is up, for ``/healthz``.

:func:`aom_bot.slack.socket.run_socket_mode` attaches its client; until then (and whenever the
client says it is not connected: closed, stale, or failing its pings) the check fails.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["SlackConnection"]


class _Connected(Protocol):
    async def is_connected(self) -> bool: ...


class SlackConnection:
    """The Socket Mode client's state, read when ``/healthz`` asks."""

    def __init__(self) -> None:
        self._client: _Connected | None = None

    def attach(self, client: _Connected) -> None:
        """The client that serves the connection from now on."""
        self._client = client

    async def problem(self) -> str | None:
        """``None`` while connected, else why not."""
        if self._client is None:
            return "the Slack connection is not open yet"
        if not await self._client.is_connected():
            return "the Slack connection is down"
        return None
