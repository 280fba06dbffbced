"""The App Home tab: the user's follows and subscriptions (and their channels'), then the usage.

Published on ``app_home_opened`` and again after a Stop button is pressed on the tab. Without
the subscriptions feature (``deps.home`` is None) the tab still explains the command.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.errors import AomBotError, StoreError
from aom_bot.render.escape import escape_mrkdwn
from aom_bot.render.kit import Block, context, header, section
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.help import USAGE

__all__ = ["home_notice", "home_view", "publish_home", "register_home"]

log = logging.getLogger(__name__)


def home_view() -> dict[str, Any]:
    """The Home tab without the subscriptions feature: what the bot does and how to use it."""
    blocks: list[Block] = [
        header("AOM executions"),
        section(
            "Type `/aom-exec` in any channel to see an AOM automation execution, follow it "
            "until it ends, or list recent runs."
        ),
        section(f"```\n{USAGE}\n```"),
        context("Followed executions and subscriptions appear here when subscriptions are on."),
    ]
    return {"type": "home", "blocks": blocks}


async def publish_home(
    deps: SlackDeps, client: AsyncWebClient, user_id: str, *, notice: str | None = None
) -> bool:
    """Render and publish the user's Home tab; False (logged) when that failed."""
    try:
        view = await deps.home.home_view(user_id, notice=notice) if deps.home else home_view()
    except StoreError as error:
        log.warning("slack.home.render_failed error=%s", error)
        text = escape_mrkdwn(error.user_message())
        view = home_view()
        view["blocks"].insert(1, section(f":warning: {text}"))
    try:
        await client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        log.warning("slack.home.publish_failed error=%s", exc.response.get("error"))
        return False
    except SlackClientError as exc:
        log.warning("slack.home.publish_failed kind=%s", type(exc).__name__)
        return False
    return True


def home_notice(exc: BaseException) -> str:
    """A click's failure, shown on top of the re-published tab (escaped, never a trace)."""
    if isinstance(exc, AomBotError):
        return f":warning: {escape_mrkdwn(exc.user_message())}"
    return ":warning: Something went wrong inside the bot; the operators' logs say what."


def register_home(app: AsyncApp, deps: SlackDeps) -> None:
    """Publish the Home tab when a user opens it."""

    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return
        user = event.get("user")
        if not isinstance(user, str) or not user:
            return
        published = await publish_home(deps, client, user)
        deps.metrics.action("app_home_opened", "ok" if published else "slack_error")

    app.event("app_home_opened")(on_home_opened)
