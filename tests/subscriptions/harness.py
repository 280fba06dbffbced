"""Subscriptions end to end: simulator, FakeSlack, SQLite, simulated time, and the Bolt app.

Built on the follow rig (``tests.follow.harness``): the follow engine and the discovery loop run
on a ``TrackingClock`` and move only when a test advances time; slash commands, clicks and Home
events go through the real Bolt app (HTTP mode, signed as Slack signs them), whose Web API
client talks to the same FakeSlack.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.aom.accounts import AomAccounts
from aom_bot.composition import AomProfile, BotInputs, BotOptions, build_bot
from aom_bot.follow.discovery import SubscriptionDiscovery
from aom_bot.follow.engine import FollowEngine
from aom_bot.slack.http import build_http_app
from aom_bot.slack.notifier import SlackNotifier
from aom_bot.slack.subscriptions import SubscriptionService
from aom_bot.store import Store
from tests.fakes.slack_api import RecordedCall
from tests.fakes.slack_signing import (
    app_home_opened,
    block_actions_payload,
    event_body,
    sign_request,
    slash_command_body,
)
from tests.follow.harness import Rig, make_rig
from tests.slack.harness import FAST

SECRET = "test-signing-secret"
INTERVAL = 10.0
OPS = "C0OPS"
BOB = "U0BOB"


@dataclass
class Bot:
    """One bot (engine + discovery + Slack app) over a rig; ``restart`` builds a new one."""

    rig: Rig
    engine: FollowEngine
    discovery: SubscriptionDiscovery
    service: SubscriptionService
    http: httpx.AsyncClient
    web_client: AsyncWebClient

    @property
    def slack(self) -> Any:
        return self.rig.slack

    # -- time -----------------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        await self.rig.advance(seconds, self.engine, self.discovery)

    async def settle(self) -> None:
        await self.rig.settle(self.engine, self.discovery)

    # -- Slack as a user ------------------------------------------------------------------

    async def _post(self, body: str) -> httpx.Response:
        headers = sign_request(body, SECRET, int(time.time()))
        response = await self.http.post("/slack/events", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return response

    async def command(
        self, text: str, *, channel: str | None = None, user: str | None = None
    ) -> str:
        """Type ``/aom-exec <text>``; returns the command's response_url."""
        channel = channel or self.slack.general
        user = user or self.slack.alice
        url = self.slack.response_url(channel, user)
        await self._post(
            slash_command_body(text, response_url=url, channel_id=channel, user_id=user)
        )
        return str(url)

    async def answer(self, url: str) -> dict[str, Any]:
        """The first message sent to a response_url (waits for it)."""
        hook_id = url.rsplit("/", 1)[-1]

        def to_hook(call: RecordedCall) -> bool:
            return call.method == "response_url" and call.args.get("hook_id") == hook_id

        return (await self.slack.wait_for(to_hook))[0].args

    async def said_in(self, channel: str, count: int) -> RecordedCall:
        """Wait for the ``count``-th message the bot posted in ``channel``."""

        def posted(call: RecordedCall) -> bool:
            return call.method == "chat.postMessage" and call.ok and call.args["channel"] == channel

        return (await self.slack.wait_for(posted, count=count))[count - 1]

    async def subscribe(self, text: str, *, channel: str | None = None) -> dict[str, Any]:
        """``/aom-exec subscribe …`` and wait for the confirmation posted in the channel."""
        channel = channel or self.slack.general
        before = self.posted_count(channel)
        await self.command(f"subscribe {text}", channel=channel)
        return (await self.said_in(channel, before + 1)).args

    def posted_count(self, channel: str) -> int:
        return sum(
            1
            for c in self.slack.calls_to("chat.postMessage")
            if c.ok and c.args["channel"] == channel
        )

    async def click(
        self, action_id: str, value: str, *, channel: str | None = None, user: str | None = None
    ) -> str:
        """Click a button on an ephemeral message in a channel; returns the response_url."""
        channel = channel or self.slack.general
        url = self.slack.response_url(channel, user or self.slack.alice, original_ts="1.1")
        payload = block_actions_payload(
            action_id,
            value,
            message_ts="1.1",
            response_url=url,
            channel_id=channel,
            user_id=user or self.slack.alice,
            is_ephemeral=True,
        )
        await self._post(_form(payload))
        return str(url)

    async def click_in_home(self, action_id: str, value: str, *, user: str) -> dict[str, Any]:
        """Click a button on the Home tab; returns the Home view published afterwards."""
        before = len(self.slack.calls_to("views.publish"))
        payload = block_actions_payload(
            action_id, value, message_ts="0", response_url="", user_id=user
        )
        for key in ("channel", "message", "response_url"):
            payload.pop(key, None)
        payload["container"] = {"type": "view", "view_id": "V0HOME"}
        payload["view"] = {"id": "V0HOME", "type": "home", "blocks": []}
        await self._post(_form(payload))
        await self.slack.wait_for("views.publish", count=before + 1)
        return dict(self.slack.home_views[user])

    async def open_home(self, user: str) -> dict[str, Any]:
        """Open the App Home tab; returns the published view."""
        before = len(self.slack.calls_to("views.publish"))
        await self._post(event_body(app_home_opened(user)))
        await self.slack.wait_for("views.publish", count=before + 1)
        return dict(self.slack.home_views[user])


def _form(payload: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload)})


def buttons(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(action_id, value, row text)`` of every row button in a message or view."""
    found = []
    for block in message.get("blocks", []):
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            found.append(
                (accessory["action_id"], accessory.get("value", ""), block["text"]["text"])
            )
    return found


def text_of(message: dict[str, Any]) -> str:
    return str(message.get("text", "")) + "\n" + json.dumps(message.get("blocks", []))


def new_bot(rig: Rig, store: Store, *, owner: str = "replica-a") -> tuple[
    FollowEngine, SubscriptionDiscovery
]:  # fmt: skip
    """An engine and a discovery loop over ``store`` (not running yet)."""
    engine = rig.engine(store=store, owner=owner)
    discovery = SubscriptionDiscovery(
        accounts=AomAccounts.single(rig.aom),
        store=store,
        notifier=rig.notifier,
        follow=engine,
        clock=rig.clock,
        owner=owner,
        interval=INTERVAL,
    )
    rig.engines.append(discovery)  # type: ignore[arg-type]  # stopped with the rig
    return engine, discovery


async def start(rig: Rig, engine: FollowEngine, discovery: SubscriptionDiscovery) -> None:
    import asyncio

    rig.runs.append(asyncio.create_task(engine.run()))
    rig.runs.append(asyncio.create_task(discovery.run()))
    await rig.settle(engine, discovery)


@asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot, started, with #ops (alice and bob) next to #general (alice)."""

    def fast(client: AsyncWebClient, clock: Any) -> SlackNotifier:
        return SlackNotifier(client, clock=clock, limits=FAST)

    async with make_rig(tmp_path, notifier_factory=fast) as rig:
        rig.slack.add_user(BOB, "bob", "Bob Example")
        rig.slack.add_channel("ops", id=OPS, members=[rig.slack.alice, BOB])
        web_client = AsyncWebClient(token=rig.slack.bot_token, base_url=rig.slack.base_url)
        options = BotOptions(owner="replica-a", discovery_interval=INTERVAL,
                             signing_secret=SECRET)  # fmt: skip
        inputs = BotInputs(
            options=options,
            aom={"default": AomProfile(commands=rig.aom, polling=rig.aom)},
            store=rig.store,
            clock=rig.clock,
            bolt_client=web_client,
            notifier_client=web_client,
        )
        wired = build_bot(inputs, engine=rig.engine(owner="replica-a"), notifier=rig.notifier)
        engine, discovery, bolt = wired.engine, wired.discovery, wired.bolt
        rig.engines.append(discovery)  # type: ignore[arg-type]  # stopped with the rig
        service = wired.deps.subscriptions
        assert isinstance(service, SubscriptionService)
        deps = wired.deps
        transport = httpx.ASGITransport(app=build_http_app(bolt, metrics=deps.metrics))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
            await start(rig, engine, discovery)
            yield Bot(rig, engine, discovery, service, http, web_client)
