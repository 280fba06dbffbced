"""The Bolt app: listeners wired to their dependencies, no module-level app object.

The token travels inside the given ``AsyncWebClient`` and the signing secret is passed
explicitly, so Bolt's ``SLACK_BOT_TOKEN`` / ``SLACK_SIGNING_SECRET`` fallbacks never fire.
(Keep ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` out of the environment: with both set, Bolt
switches to OAuth mode on its own.)

::

    app = create_app(deps, signing_secret=secret, client=build_web_client(token))
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.slack.actions import register_actions
from aom_bot.slack.commands import register_commands
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.gate import AckGate
from aom_bot.slack.home import register_home
from aom_bot.slack.operate_listeners import register_operations

__all__ = ["create_app"]

log = logging.getLogger(__name__)

AuthorizeFn = Callable[..., Awaitable[AuthorizeResult]]


class _GatedApp(AsyncApp):
    """Bolt's app, counting each request in the ack gate while it is being acknowledged.

    With ``process_before_response=False`` Bolt's dispatch returns as soon as the listener has
    called ``ack()``: that span is what the gate counts, in HTTP and Socket Mode alike.
    """

    def __init__(self, *, gate: AckGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ack_gate = gate

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        with self._ack_gate.acknowledging():
            return await super().async_dispatch(req)


def create_app(
    deps: SlackDeps,
    *,
    signing_secret: str,
    client: AsyncWebClient,
    authorize: AuthorizeFn | None = None,
    logger: logging.Logger | None = None,
) -> AsyncApp:
    """A Bolt ``AsyncApp`` with the command, the buttons and the Home tab registered.

    ``signing_secret`` may be empty in Socket Mode (requests are not signed there); in HTTP
    mode every request is verified with it. ``authorize`` replaces the ``auth.test`` lookup.
    """
    app = _GatedApp(
        gate=deps.ack_gate,
        name="aom-bot",
        client=client,
        signing_secret=signing_secret,
        authorize=authorize,
        logger=logger or logging.getLogger("aom_bot.slack.bolt"),
        # Background work after ack() runs in this long-lived process, not a FaaS.
        process_before_response=False,
    )
    register_commands(app, deps)
    register_actions(app, deps)
    register_operations(app, deps)
    register_home(app, deps)

    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        # Never show a stack trace to Slack; the operators get the kind of failure.
        log.error("slack.bolt.unhandled kind=%s type=%s", type(error).__name__, body.get("type"))
        return BoltResponse(status=500, body="")

    app.error(on_error)
    return app
