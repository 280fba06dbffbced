"""The App Home tab: a placeholder until the subscriptions issue fills it with follows.

It already answers ``app_home_opened`` so the tab is never blank: it shows the usage.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.render.kit import Block, context, header, section
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.help import USAGE

__all__ = ["home_view", "register_home"]

log = logging.getLogger(__name__)


def home_view() -> dict[str, Any]:
    """The Home tab view: what the bot does and how to use it."""
    blocks: list[Block] = [
        header("AOM executions"),
        section(
            "Type `/aom-exec` in any channel to see an AOM automation execution, follow it "
            "until it ends, or list recent runs."
        ),
        section(f"```\n{USAGE}\n```"),
        context("Followed executions and subscriptions will appear here."),
    ]
    return {"type": "home", "blocks": blocks}


def register_home(app: AsyncApp, deps: SlackDeps) -> None:
    """Publish the Home tab when a user opens it."""

    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return
        user = event.get("user")
        if not isinstance(user, str) or not user:
            return
        try:
            await client.views_publish(user_id=user, view=home_view())
        except SlackApiError as exc:
            log.warning("slack.home.publish_failed error=%s", exc.response.get("error"))
            deps.metrics.action("app_home_opened", "slack_error")
            return
        deps.metrics.action("app_home_opened", "ok")

    app.event("app_home_opened")(on_home_opened)
