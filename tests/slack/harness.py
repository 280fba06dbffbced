"""The whole Slack side of the bot, wired for offline end-to-end tests.

The real Bolt app is served in HTTP mode (our Starlette app, driven through
``httpx.ASGITransport``); its Web API client talks to ``FakeSlack`` on 127.0.0.1; AOM is the
simulator, in-process; follows go through the real follow engine over an in-memory SQLite
store. Requests are signed exactly as Slack signs them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.clock import ManualClock
from aom_bot.composition import BUILD, AomProfile, Bot, BotInputs, BotOptions, build_bot
from aom_bot.config import StaticTokenCredentials
from aom_bot.profiles import AllowRule, BotConfig, Permission, Policy, Profile
from aom_bot.records import FollowRequest
from aom_bot.render.actions import encode_ref
from aom_bot.render.scrub import Scrubber
from aom_bot.simulator import SimulatorCredentials, World, build_world, create_simulator_app
from aom_bot.simulator.faults import Faults, RequestCounter
from aom_bot.slack.deps import FollowControl, FollowOutcome, SlackDeps, SubscriptionHandler
from aom_bot.slack.http import build_http_app
from aom_bot.slack.metrics import Metrics
from aom_bot.slack.notifier import Rate, SlackLimits
from aom_bot.slack.webclient import build_web_client
from aom_bot.store import open_store
from aom_bot.store.base import Store
from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.slack_signing import (
    block_actions_payload,
    sign_request,
    slash_command_body,
)
from tests.fakes.slack_state import SlackError

SECRET = "test-signing-secret"
CONSOLE = "https://console.example.com/aom/{region}/workflow/{workflow_id}/execution/{execution_id}"
REGION = "cn-north-4"
#: no pacing: the harness clock is simulated and never advances on its own, so any pacing
#: wait would last forever (rate limits are the notifier's own tests' business)
_UNPACED = Rate(6_000_000, 100_000)
FAST = SlackLimits(
    update=_UNPACED,
    post=_UNPACED,
    post_per_channel=_UNPACED,
    ephemeral=_UNPACED,
    join=_UNPACED,
    replies=_UNPACED,
    files=_UNPACED,
    permalink=_UNPACED,
    history=_UNPACED,
    retries=1,
)


class TrackedFollow:
    """The follow engine, plus an event per finished ``follow``/``unfollow`` call for tests."""

    def __init__(self, engine: FollowControl) -> None:
        self.engine = engine
        self.finished: list[str] = []
        self._changed = asyncio.Condition()

    async def _done(self, what: str) -> None:
        async with self._changed:
            self.finished.append(what)
            self._changed.notify_all()

    async def follow(self, request: FollowRequest) -> FollowOutcome:
        try:
            return await self.engine.follow(request)
        finally:
            await self._done("follow")

    async def unfollow(self, **kwargs: Any) -> bool:
        try:
            return await self.engine.unfollow(**kwargs)
        finally:
            await self._done("unfollow")

    async def is_following(self, channel_id: str, workflow_id: str, execution_id: str) -> bool:
        return await self.engine.is_following(channel_id, workflow_id, execution_id)

    async def wait(self, what: str, count: int = 1) -> None:
        """Until ``count`` calls of ``what`` have returned (or raised)."""
        async with self._changed, asyncio.timeout(5):
            await self._changed.wait_for(lambda: self.finished.count(what) >= count)


@dataclass
class Harness:
    """One bot instance plus its fakes, and helpers to talk to it as Slack would."""

    slack: FakeSlack
    world: World
    faults: Faults
    requests: RequestCounter
    clock: ManualClock
    metrics: Metrics
    deps: SlackDeps
    bolt: AsyncApp
    web: Starlette
    http: httpx.AsyncClient
    store: Store
    follows: TrackedFollow
    bot: Bot
    hooks: list[str] = field(default_factory=list)
    #: the configuration file in force (None: no file); ``.replace`` stands for a SIGHUP
    config: FixedConfig | None = None

    def workflow(self, name: str) -> str:
        """The simulator's workflow id for a workflow name (e.g. ``rotate-logs``)."""
        return self.world.workflow_id_by_name(name)

    def newest(self, workflow_id: str) -> str:
        """The newest execution of a workflow (it starts at the harness's "now")."""
        return self.world.execution_ids(workflow_id)[0]

    def failed_yesterday(self, workflow_id: str) -> str:
        """Yesterday's run of a workflow whose scenario fails (``rotate-logs``): terminal."""
        return self.world.execution_ids(workflow_id)[1]

    async def post(
        self, body: str, *, timestamp: int | None = None, secret: str = SECRET
    ) -> httpx.Response:
        """POST a raw body to ``/slack/events``, signed as Slack signs it."""
        ts = int(time.time()) if timestamp is None else timestamp
        headers = sign_request(body, secret, ts)
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def command(
        self,
        text: str,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        timestamp: int | None = None,
        secret: str = SECRET,
        **fields: Any,
    ) -> httpx.Response:
        """Type ``/aom-exec <text>`` in a channel (default #general, as alice)."""
        channel = channel_id or self.slack.general
        user = user_id or self.slack.alice
        url = self.slack.response_url(channel, user)
        self.hooks.append(url)
        body = slash_command_body(
            text, response_url=url, channel_id=channel, user_id=user, **fields
        )
        return await self.post(body, timestamp=timestamp, secret=secret)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        message_ts: str,
        channel_id: str | None = None,
        is_ephemeral: bool = False,
        timestamp: int | None = None,
        user_id: str | None = None,
        user_name: str | None = None,
        overflow: bool = False,
    ) -> httpx.Response:
        """Click a button on a message (``value`` as the bot rendered it), as alice unless
        ``user_id`` says who; ``overflow``: pick the option ``value`` of an overflow menu."""
        channel = channel_id or self.slack.general
        user = user_id or self.slack.alice
        url = self.slack.response_url(channel, user, original_ts=message_ts)
        self.hooks.append(url)
        message = None
        if not is_ephemeral:
            try:
                message = self.slack.message(channel, message_ts)
            except SlackError:  # deleted meanwhile: Slack still sends what the client showed
                message = {"type": "message", "ts": message_ts, "text": "", "blocks": []}
        payload = block_actions_payload(
            action_id,
            value,
            message_ts=message_ts,
            response_url=url,
            channel_id=channel,
            is_ephemeral=is_ephemeral,
            message=message,
            user_id=user,
            user_name=user_name or ("alice" if user == self.slack.alice else user.lower()),
        )
        if overflow:  # an overflow menu sends the chosen option, not a value
            action = payload["actions"][0]
            del action["value"]
            action["type"] = "overflow"
            action["selected_option"] = {
                "text": {"type": "plain_text", "text": "Option"},
                "value": value,
            }
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, timestamp=timestamp)

    async def click_ref(
        self, action_id: str, workflow_id: str, execution_id: str, **kwargs: Any
    ) -> httpx.Response:
        """Click a button whose value refers to an execution."""
        return await self.click(action_id, encode_ref(workflow_id, execution_id), **kwargs)

    @property
    def last_hook(self) -> str:
        """The response_url of the latest command or click."""
        return self.hooks[-1]

    async def hook_post(self, index: int = 0, url: str | None = None) -> dict[str, Any]:
        """Wait for a POST to a response_url (the latest by default) and return its body."""
        hook_id = (url or self.last_hook).rsplit("/", 1)[-1]

        def to_hook(call: RecordedCall) -> bool:
            return call.method == "response_url" and call.args.get("hook_id") == hook_id

        calls = await self.slack.wait_for(to_hook, count=index + 1)
        return calls[index].args

    async def wait_posted(self, channel: str | None = None, count: int = 1) -> RecordedCall:
        """Wait for the ``count``-th successful chat.postMessage in a channel."""
        wanted = channel or self.slack.general

        def posted(call: RecordedCall) -> bool:
            return call.method == "chat.postMessage" and call.ok and call.args["channel"] == wanted

        return (await self.slack.wait_for(posted, count=count))[count - 1]


class FixedConfig:
    """A configuration file (``ConfigSource``) that changes only when a test replaces it."""

    def __init__(self, config: BotConfig) -> None:
        self._config = config

    @property
    def current(self) -> BotConfig:
        return self._config

    def replace(self, rules: Sequence[AllowRule], two_person: frozenset[str]) -> None:
        """What a SIGHUP with a new file does: the next request sees it."""
        self._config = _config(self._config.profiles["default"].project_id, rules, two_person)


def _config(project_id: str, rules: Sequence[AllowRule], two_person: frozenset[str]) -> BotConfig:
    """The file's model: the one ``default`` profile (the simulator) and ``rules``."""
    profile = Profile(
        name="default",
        region=REGION,
        project_id=project_id,
        endpoint="http://aom.test",
        credentials=StaticTokenCredentials(token=SecretStr("unused-in-process")),
        credential_source="test",
        two_person=frozenset(Permission(p) for p in two_person),
    )
    return BotConfig(
        profiles={"default": profile}, default_profile="default", policy=Policy(tuple(rules))
    )


def text_of(message: dict[str, Any]) -> str:
    """Everything a person reads in a message: fallback text plus every block's text."""
    return (
        message.get("text", "") + "\n" + json.dumps(message.get("blocks", []), ensure_ascii=False)
    )


def action_values(message: dict[str, Any]) -> dict[str, str]:
    """``action_id -> value`` (or url) of every button in a message."""
    found: dict[str, str] = {}
    for block in message.get("blocks", []):
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        if block.get("accessory"):
            elements = [*elements, block["accessory"]]
        for element in elements:
            if element.get("type") == "button":
                found[element["action_id"]] = element.get("url") or element.get("value", "")
    return found


@asynccontextmanager
async def running_bot(
    *,
    follow: FollowControl | None = None,
    subscriptions: SubscriptionHandler | None = None,
    join_channels: bool = True,
    rate_limit_retries: int = 1,
    aom_transport: httpx.AsyncBaseTransport | None = None,
    secrets: tuple[str, ...] = (),
    max_follows: tuple[int, int] | None = None,
    rules: Sequence[AllowRule] | None = None,
    two_person: frozenset[str] = frozenset(),
    database_url: str = "sqlite:///:memory:",
) -> AsyncIterator[Harness]:
    """Start FakeSlack, the simulator and the bot; stop everything afterwards.

    ``aom_transport`` replaces the simulator as AOM; ``secrets`` are the configured secret
    values the bot must never send (its scrubber and Web API client get them);
    ``max_follows`` is (per user, per workspace). ``rules`` stand for a configuration file
    (its ``[[allow]]`` rules, one ``default`` profile; None: no file), ``two_person`` for its
    ``[profiles.default] two_person``; ``database_url`` the store (in memory by default)."""
    clock = ManualClock()
    world = build_world(seed=3, clock=lambda: clock.now().timestamp())
    faults = Faults()
    requests = RequestCounter()
    sim = create_simulator_app(
        world, credentials=SimulatorCredentials(), faults=faults, requests=requests
    )
    metrics = Metrics()
    aom = AomClient(
        build_http_client(
            base_url="http://aom.test",
            auth=None,
            transport=aom_transport or httpx.ASGITransport(app=sim),
        ),
        project_id=world.project_id,
        retry=RetryPolicy(attempts=1),
    )
    store = await open_store(database_url)
    await store.migrate()
    async with FakeSlack() as slack:
        client = build_web_client(
            slack.bot_token,
            base_url=slack.base_url,
            metrics=metrics,
            rate_limit_retries=rate_limit_retries,
            secrets=secrets,
        )
        options = BotOptions(
            owner="test-replica",
            max_follows=max_follows,
            join_channels=join_channels,
            scrubber=Scrubber(secrets=secrets) if secrets else None,
            slack_limits=FAST,
            signing_secret=SECRET,
        )
        config = (
            None if rules is None else FixedConfig(_config(world.project_id, rules, two_person))
        )
        inputs = BotInputs(
            options=options,
            aom={
                "default": AomProfile(
                    commands=aom,
                    polling=aom,
                    region=REGION,
                    console_url_template=CONSOLE,
                    two_person=two_person,
                )
            },
            store=store,
            clock=clock,
            bolt_client=client,
            notifier_client=client,
            metrics=metrics,
            config=config,
        )
        bot = build_bot(
            inputs,
            follow=BUILD if follow is None else follow,
            wrap_follow=TrackedFollow,
            subscriptions=subscriptions,
            # a fake engine comes without the store's one card per execution per channel
            cards=BUILD if follow is None else None,
        )
        engine = bot.deps.follow
        assert isinstance(engine, TrackedFollow)
        deps, bolt = bot.deps, bot.bolt
        web = build_http_app(bolt, metrics=metrics)
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
            try:
                yield Harness(
                    slack=slack,
                    world=world,
                    faults=faults,
                    requests=requests,
                    clock=clock,
                    metrics=metrics,
                    deps=deps,
                    bolt=bolt,
                    web=web,
                    http=http,
                    store=store,
                    follows=engine,
                    bot=bot,
                    config=config,
                )
            finally:
                await client.aclose()
                await aom.aclose()
                await store.aclose()
