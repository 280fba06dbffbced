"""Socket Mode: the app connects out to Slack over a WebSocket; no public URL is needed.

Used when ``SLACK_APP_TOKEN`` (``xapp-…``, scope ``connections:write``) is set. Requests are
not signed in this mode (the WebSocket itself is authenticated), so no signing secret is needed.

::

    handler = build_socket_handler(bolt_app, app_token=app_token)
    await handler.client.connect()    # or: await run_socket_mode(bolt_app, app_token=...)
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.slack.connection import SlackConnection

__all__ = ["build_socket_handler", "run_socket_mode"]


def build_socket_handler(
    bolt_app: AsyncApp,
    *,
    app_token: str,
    web_client: AsyncWebClient | None = None,
    ping_interval: float = 10,
    logger: logging.Logger | None = None,
) -> AsyncSocketModeHandler:
    """The Socket Mode handler of ``bolt_app``; ``apps.connections.open`` goes to the app's
    Web API client (``SLACK_API_URL`` included) unless ``web_client`` is given."""
    if not app_token.startswith("xapp-"):
        # Never echo the value: it is a secret even when it is the wrong one.
        raise ValueError("SLACK_APP_TOKEN must be an app-level token (it starts with xapp-)")
    return AsyncSocketModeHandler(
        bolt_app,
        app_token=app_token,
        web_client=web_client,
        ping_interval=ping_interval,
        logger=logger or logging.getLogger("aom_bot.slack.socket_mode"),
    )


async def run_socket_mode(
    bolt_app: AsyncApp, *, app_token: str, connection: SlackConnection | None = None
) -> None:
    """Connect and serve until cancelled; the connection is closed on the way out.

    ``connection`` (for ``/healthz``) is told which client holds the WebSocket.
    """
    handler = build_socket_handler(bolt_app, app_token=app_token)
    if connection is not None:
        connection.attach(handler.client)
    try:
        await handler.client.connect()  # type: ignore[no-untyped-call]  # slack_sdk: untyped
        await asyncio.Event().wait()  # the client's own tasks serve; wait to be cancelled
    finally:
        await handler.client.close()  # type: ignore[no-untyped-call]
