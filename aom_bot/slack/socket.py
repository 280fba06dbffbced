"""Socket Mode: the app connects out to Slack over a WebSocket; no public URL is needed.

Used when ``SLACK_APP_TOKEN`` (``xapp-…``, scope ``connections:write``) is set. Requests are
not signed in this mode (the WebSocket itself is authenticated), so no signing secret is needed.

A token Slack refuses at start-up is a ``ConfigError`` (exit 2), an unreachable Slack a
``SlackDeliveryError`` (exit 3). A connection lost later is re-opened with bounded back-off
(:class:`Reconnect`); when that keeps failing, ``run_socket_mode`` raises so that the process
exits non-zero and its supervisor restarts it — instead of the SDK's retry-forever loop.

::

    handler = build_socket_handler(bolt_app, app_token=app_token)
    await handler.client.connect()    # or: await run_socket_mode(bolt_app, app_token=...)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.clock import Sleep
from aom_bot.errors import ConfigError, SlackDeliveryError
from aom_bot.slack.connection import SlackConnection

__all__ = ["Reconnect", "build_socket_handler", "open_socket_url", "run_socket_mode"]

_log = logging.getLogger("aom_bot.slack.socket")

#: apps.connections.open errors that mean the app token itself is wrong
_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "token_revoked",
        "token_expired",
        "account_inactive",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnect:
    """How a lost connection is re-opened: ``attempts`` tries in a row, waiting ``initial``
    seconds doubling up to ``maximum`` between them, each connect bounded by ``timeout``."""

    attempts: int = 6
    initial: float = 1.0
    maximum: float = 30.0
    timeout: float = 15.0
    #: how often the connection's health is checked
    check_every: float = 5.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed attempts in a row."""
        return float(min(self.maximum, self.initial * 2 ** max(0, failures - 1)))


class _OneLine(logging.Filter):
    """The SDK logs every failed connect with a full traceback; one line says as much."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


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
    if logger is None:
        logger = logging.getLogger("aom_bot.slack.socket_mode")
        if not any(isinstance(f, _OneLine) for f in logger.filters):
            logger.addFilter(_OneLine())
    return AsyncSocketModeHandler(
        bolt_app,
        app_token=app_token,
        web_client=web_client,
        ping_interval=ping_interval,
        logger=logger,
    )


async def open_socket_url(client: AsyncWebClient, app_token: str) -> str:
    """``apps.connections.open``: a fresh WebSocket URL, or one clear error (never the token)."""
    try:
        response = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        data = exc.response.data
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        if error in _REFUSED:
            raise ConfigError(
                f"Slack refused SLACK_APP_TOKEN ({error}).",
                hint="Use an app-level token (xapp-…) with the connections:write scope, from "
                "Basic Information > App-Level Tokens, and enable Socket Mode.",
            ) from None
        raise SlackDeliveryError(
            f"Slack could not open a Socket Mode connection ({error or exc.response.status_code}).",
            error=error,
        ) from None
    except (OSError, TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
        raise SlackDeliveryError(
            f"Cannot reach Slack to open a Socket Mode connection ({type(exc).__name__}).",
            hint="Check the network, or SLACK_API_URL if you set it.",
        ) from None
    return str(response["url"])


async def _connect(client: SocketModeClient, app_token: str, policy: Reconnect) -> None:
    """One connection attempt, bounded in time (the SDK's own connect retries forever)."""
    async with client.connect_operation_lock:
        client.wss_uri = await open_socket_url(client.web_client, app_token)
        try:
            async with asyncio.timeout(policy.timeout):
                await client.connect()  # type: ignore[no-untyped-call]  # slack_sdk: untyped
        except TimeoutError:
            raise SlackDeliveryError(
                f"Slack's Socket Mode WebSocket did not open within {policy.timeout:g} s.",
                hint="Check that the network allows outgoing WebSocket (wss://) connections.",
            ) from None


async def _until_lost(client: SocketModeClient, policy: Reconnect, sleep: Sleep) -> None:
    """Return once the connection is down on two checks in a row (the SDK re-opens it by
    itself when Slack asks it to refresh; that takes well under one check)."""
    down = 0
    while down < 2:
        await sleep(policy.check_every)
        down = 0 if await client.is_connected() else down + 1


async def run_socket_mode(
    bolt_app: AsyncApp,
    *,
    app_token: str,
    policy: Reconnect | None = None,
    sleep: Sleep = asyncio.sleep,
    connection: SlackConnection | None = None,
) -> None:
    """Connect and serve until cancelled; the connection is closed on the way out.

    Start-up failures raise at once; a connection lost later is re-opened per ``policy`` and,
    when every attempt fails, ends with ``SlackDeliveryError``. ``connection`` (for
    ``/healthz``) is told which client holds the WebSocket.
    """
    policy = policy or Reconnect()
    handler = build_socket_handler(bolt_app, app_token=app_token)
    client = handler.client
    if connection is not None:
        connection.attach(client)
    client.default_auto_reconnect_enabled = False  # reconnecting is bounded here instead
    client.auto_reconnect_enabled = False
    try:
        await _connect(client, app_token, policy)
        _log.info("slack.socket.connected")
        while True:
            await _until_lost(client, policy, sleep)
            _log.warning("slack.socket.lost: reconnecting")
            failures = 0
            while True:
                try:
                    await _connect(client, app_token, policy)
                    break
                except SlackDeliveryError as exc:
                    failures += 1
                    if failures >= policy.attempts:
                        raise SlackDeliveryError(
                            f"Lost the Socket Mode connection to Slack; {failures} reconnects "
                            f"failed (last: {exc.message})",
                            hint="Exiting so that the process supervisor restarts the bot.",
                            error=exc.error,
                        ) from None
                    delay = policy.delay(failures)
                    _log.warning(
                        "slack.socket.reconnect_failed attempt=%d retry_in=%.1fs error=%s",
                        failures,
                        delay,
                        exc.message,
                    )
                    await sleep(delay)
            _log.info("slack.socket.reconnected attempts=%d", failures + 1)
    finally:
        await client.close()  # type: ignore[no-untyped-call]
