"""One wiring of the bot: resources in, the running parts out (nothing started here).

``run_bot``, the test harnesses and ``bench/`` all call :func:`build_bot`, so there is one
wiring to read and change. Opening the store and building clients from the settings stays in
:mod:`aom_bot.runtime` / :mod:`aom_bot.bot`; serving the parts is :func:`supervise`.
"""

from __future__ import annotations

import asyncio
import copy
import enum
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from aom_bot.aom.accounts import AomAccount, AomAccounts
from aom_bot.aom.client import AomClient
from aom_bot.aom.names import WorkflowNames
from aom_bot.aom.reachability import Reachability
from aom_bot.clock import Clock
from aom_bot.errors import TaskEnded
from aom_bot.follow.cards import ActionsFor
from aom_bot.follow.discovery import SubscriptionDiscovery
from aom_bot.follow.engine import EngineOptions, FollowEngine
from aom_bot.health import Health
from aom_bot.profiles import Permission
from aom_bot.profiles.model import ACTIONS as ACTION_PERMISSIONS
from aom_bot.render.scrub import Scrubber
from aom_bot.slack.access import Access, ConfigSource
from aom_bot.slack.app import create_app
from aom_bot.slack.deps import (
    FollowControl,
    MeteredAom,
    SlackDeps,
    SubscriptionHandler,
)
from aom_bot.slack.groups import SlackUserGroups
from aom_bot.slack.limits import FollowLimits
from aom_bot.slack.metrics import Metrics
from aom_bot.slack.notifier import SlackLimits, SlackNotifier
from aom_bot.slack.subscriptions import SlackChannelDirectory, SubscriptionService
from aom_bot.store.base import Store

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk.web.async_client import AsyncWebClient

__all__ = [
    "BUILD",
    "AomProfile",
    "Bot",
    "BotInputs",
    "BotOptions",
    "TaskEnded",
    "aom_accounts",
    "aom_unreachable",
    "build_bot",
    "supervise",
]

_log = logging.getLogger("aom_bot.runtime")
#: how often expired two-person requests and interrupted actions are looked for
ACTION_SWEEP_SECONDS = 30.0
_T = TypeVar("_T")


class _Build(enum.Enum):
    """Marks a part :func:`build_bot` builds itself (None is a real choice: no such part)."""

    BUILD = "build"


#: the default of every override of :func:`build_bot`: build the part as the bot does
BUILD = _Build.BUILD


@dataclass(frozen=True)
class AomProfile:
    """One AOM account's clients: commands answer people, polling follows (shorter retries).

    They may be one client; clients of one profile share a request cap and a reachability."""

    commands: AomClient
    polling: AomClient
    region: str = ""
    #: the profile's console URL template, or None for no Console button
    console_url_template: str | None = None
    #: the permissions (terminate, retry, run) that need a second person here
    two_person: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BotOptions:
    """Everything the wiring takes from the settings, as plain values."""

    #: this replica's name on leases (``bot.replica_owner()`` in the bot)
    owner: str
    poll_min: float = 5.0
    poll_max: float = 30.0
    max_follow: timedelta = timedelta(hours=24)
    broadcast_failures: bool = True
    discovery_interval: float = 60.0
    #: (per user, per workspace), or None for no limit
    max_follows: tuple[int, int] | None = None
    #: how long this replica's leases last: on follows, and on subscriptions (None: from the
    #: discovery interval)
    follow_lease_ttl: timedelta = timedelta(minutes=2)
    discovery_lease_ttl: timedelta | None = None
    join_channels: bool = True
    scrubber: Scrubber | None = None
    #: the notifier's pacing (None: Slack's published limits)
    slack_limits: SlackLimits | None = None
    #: empty in Socket Mode (requests are not signed there)
    signing_secret: str = ""
    #: how long an action may wait for AOM's answer before the sweep calls its outcome
    #: ``unknown`` (its process died mid-request); None: ``operate.UNKNOWN_AFTER``
    action_unknown_after: timedelta | None = None


@dataclass(frozen=True)
class BotInputs:
    """The resources the bot is wired from; the caller opens and closes them."""

    options: BotOptions
    #: AOM profile name → its clients, in configuration order
    aom: Mapping[str, AomProfile]
    store: Store
    clock: Clock
    #: Bolt's Web API client (it retries 429s itself)
    bolt_client: AsyncWebClient
    #: the notifier's Web API client (it paces and handles 429s on the bot's clock)
    notifier_client: AsyncWebClient
    metrics: Metrics = field(default_factory=Metrics)
    #: Bolt's authorize (``auth.test`` answered once at start-up), or None for Bolt's own
    authorize: Callable[..., Awaitable[AuthorizeResult]] | None = None
    #: more ``/healthz`` checks (e.g. the store monitor's)
    health_checks: Sequence[Callable[[], Awaitable[str | None]]] = ()
    #: the configuration file in force (channel bindings, policy), or None: no file, one
    #: profile, and everyone may read, follow and subscribe
    config: ConfigSource | None = None


@dataclass
class Bot:
    """The wired parts, not started: :func:`supervise` runs the long-running ones."""

    engine: FollowEngine
    discovery: SubscriptionDiscovery
    notifier: SlackNotifier
    deps: SlackDeps
    bolt: AsyncApp
    health: Health
    metrics: Metrics
    store: Store
    #: see ``BotOptions.action_unknown_after``
    action_unknown_after: timedelta | None = None

    def tasks(self) -> dict[str, Coroutine[Any, Any, None]]:
        """The bot's long-running work, by the name ``/healthz`` reports it under."""
        tasks = {
            "the follow engine": self.engine.run(),
            "discovery": self.discovery.run(),
            "metrics": self._report_gauges(),
            "lease hand-overs": self._relay_handovers(),
        }
        if self.deps.ledger is not None:
            tasks["the action sweep"] = self._sweep_actions()
        return tasks

    async def stop(self) -> None:
        """Stop the loops in order: discovery hands new runs to the engine."""
        await self.discovery.stop()
        await self.engine.stop()

    async def _sweep_actions(self) -> None:
        """Expire two-person requests, and call actions interrupted by a crash ``unknown``."""
        from aom_bot.slack.approvals import sweep
        from aom_bot.slack.operate import UNKNOWN_AFTER

        unknown_after = self.action_unknown_after or UNKNOWN_AFTER
        # a short ``unknown_after`` is looked for as often: a third of it, at most every 30 s
        every = min(ACTION_SWEEP_SECONDS, max(unknown_after.total_seconds() / 3, 0.1))
        while True:
            await sweep(self.deps, unknown_after=unknown_after)
            await self.deps.clock.sleep(every)

    async def _relay_handovers(self) -> None:
        """Another replica gave leases back: the engine and discovery take them now."""
        async for prefix in self.store.handovers():
            self.engine.handover_heard(prefix)
            self.discovery.handover_heard(prefix)

    async def _report_gauges(self) -> None:
        while True:
            self.metrics.set_active_follows(self.engine.stats.active_follows)
            await self.store.health_problem()  # logs, once, when the store's file goes bad
            await asyncio.sleep(5)


def _pick(override: _T | _Build, built: Callable[[], _T]) -> _T:
    return built() if isinstance(override, _Build) else override


def build_bot(
    inputs: BotInputs,
    *,
    engine: FollowEngine | _Build = BUILD,
    follow: FollowControl | _Build = BUILD,
    subscriptions: SubscriptionHandler | _Build | None = BUILD,
    cards: Store | _Build | None = BUILD,
    wrap_follow: Callable[[FollowControl], FollowControl] | None = None,
    notifier: SlackNotifier | _Build = BUILD,
) -> Bot:
    """Wire the bot's parts from ``inputs``; a keyword replaces the part it names.

    ``follow`` is what the listeners call (the engine by default; ``wrap_follow`` wraps it,
    e.g. to count calls in tests); ``subscriptions`` None means no subscriptions (and a Home
    tab without them).
    """
    opts, store, clock, metrics = inputs.options, inputs.store, inputs.clock, inputs.metrics
    accounts = aom_accounts(inputs.aom, metrics)
    access = Access(accounts, inputs.config, SlackUserGroups(inputs.bolt_client, clock))
    # actions need rules that grant them (none without a configuration file) and the ledger
    ledger = store if inputs.config is not None else None
    actions_for = _actions_for(access) if ledger is not None else None
    notifier = _pick(
        notifier,
        lambda: SlackNotifier(inputs.notifier_client, clock=clock, limits=opts.slack_limits),
    )
    the_engine = _pick(engine, lambda: _engine(inputs, accounts, notifier, actions_for))
    control: FollowControl = _pick(follow, lambda: the_engine)
    if wrap_follow is not None:
        control = wrap_follow(control)
    service: SubscriptionService | None = None
    if isinstance(subscriptions, _Build):
        service = SubscriptionService(
            access=access, store=store, follow=the_engine, clock=clock,
            directory=SlackChannelDirectory(inputs.bolt_client), scrubber=opts.scrubber,
        )  # fmt: skip
    discovery = SubscriptionDiscovery(
        accounts=accounts, store=store, notifier=notifier,
        follow=the_engine, clock=clock, owner=opts.owner, interval=opts.discovery_interval,
        scrubber=opts.scrubber, lease_ttl=opts.discovery_lease_ttl, actions_for=actions_for,
    )  # fmt: skip
    deps = SlackDeps(
        access=access, notifier=notifier, follow=control,
        clock=clock, metrics=metrics, scrubber=opts.scrubber,
        subscriptions=service if isinstance(subscriptions, _Build) else subscriptions,
        home=service,
        join_channels=opts.join_channels,
        follow_limits=FollowLimits(store, *opts.max_follows) if opts.max_follows else None,
        cards=_pick(cards, lambda: store),
        ledger=ledger,
    )  # fmt: skip
    bolt = create_app(
        deps, signing_secret=opts.signing_secret, authorize=inputs.authorize,
        client=inputs.bolt_client if inputs.authorize is None else _tokenless(inputs.bolt_client),
    )  # fmt: skip
    return Bot(
        the_engine, discovery, notifier, deps, bolt, _health(inputs), metrics, store,
        action_unknown_after=opts.action_unknown_after,
    )  # fmt: skip


def _actions_for(access: Access) -> ActionsFor:
    """(profile, channel) → the action permissions some rule could grant there."""

    def permitted(profile: str, channel_id: str) -> frozenset[Permission]:
        return frozenset(
            p for p in ACTION_PERMISSIONS
            if access.anyone_may(p, profile=profile, channel_id=channel_id)
        )  # fmt: skip

    return permitted


def _engine(
    inputs: BotInputs,
    accounts: AomAccounts,
    notifier: SlackNotifier,
    actions_for: ActionsFor | None,
) -> FollowEngine:
    opts = inputs.options
    options = EngineOptions(
        owner=opts.owner, poll_min=opts.poll_min, poll_max=opts.poll_max,
        max_follow=opts.max_follow, broadcast_failures=opts.broadcast_failures,
        scrubber=opts.scrubber, lease_ttl=opts.follow_lease_ttl, actions_for=actions_for,
    )  # fmt: skip
    return FollowEngine(
        accounts=accounts, store=inputs.store, notifier=notifier, clock=inputs.clock,
        options=options,
    )  # fmt: skip


def aom_accounts(profiles: Mapping[str, AomProfile], metrics: Metrics) -> AomAccounts:
    """Each profile's clients as the bot's parts use them: metered, with names and links.

    Cards name the profile ("prod · cn-north-4") only when there are several."""
    several = len(profiles) > 1
    return AomAccounts(
        AomAccount(
            name=name,
            region=profile.region,
            project_id=profile.commands.project_id,
            commands=MeteredAom(profile.commands, metrics),
            polling=MeteredAom(profile.polling, metrics),
            console_url_template=profile.console_url_template,
            workflow_names=WorkflowNames(profile.commands).name,
            label=(f"{name} · {profile.region}" if profile.region else name) if several else None,
            actor=profile.commands,
            two_person=profile.two_person,
        )
        for name, profile in profiles.items()
    )


def _health(inputs: BotInputs) -> Health:
    """``/healthz``: the given checks, and AOM (failing while every profile is unreachable)."""
    health = Health()
    for check in inputs.health_checks:
        health.add_check(check)
    health.add_check(aom_unreachable([p.commands.reachability for p in inputs.aom.values()]))
    return health


def _tokenless(client: AsyncWebClient) -> AsyncWebClient:
    """The client Bolt copies its per-request clients from, without the token: the token comes
    from ``authorize``, and a client that carries one too makes Bolt warn at every start that
    it is ignored. The copy shares the connection pool (closed with ``client``)."""
    template = copy.copy(client)
    template.token = None
    return template


def aom_unreachable(profiles: Sequence[Reachability]) -> Callable[[], Awaitable[str | None]]:
    """The health check of AOM: failing only while every profile is unreachable."""

    async def check() -> str | None:
        if profiles and not any(profile.reachable for profile in profiles):
            return "every AOM profile is unreachable"
        return None

    return check


async def supervise(
    bot: Bot, stop: asyncio.Event, *, more: Mapping[str, Coroutine[Any, Any, None]] | None = None
) -> None:
    """Run the bot's tasks (and ``more``) until ``stop`` is set or one of them ends.

    A task that fails or returns is logged and stops the whole bot; its error is raised (not
    an exception group), so the CLI gives its exit code. Never a half-running process.
    """
    stopping = False

    async def watched(what: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # one line: the CLI says what went wrong (and logs a trace only for a bug)
            _log.error("bot.task_failed part=%s error=%s", what, type(exc).__name__)
            raise
        if not stopping:
            _log.error("bot.task_failed part=%s (it ended)", what)
            raise TaskEnded(f"{what} stopped unexpectedly")

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(watched(what, work), name=what)
                for what, work in {**bot.tasks(), **(more or {})}.items()
            ]
            for task in tasks:
                bot.health.watch_task(task.get_name(), task)
            await stop.wait()
            stopping = True
            _log.info("bot.stopping")
            await bot.stop()
            for task in tasks:
                task.cancel()
    except BaseExceptionGroup as group_error:
        if not stopping:
            stopping = True
            _log.info("bot.stopping")
            await bot.stop()
        raise _first(group_error) from None


def _first(error: BaseExceptionGroup[BaseException]) -> BaseException:
    leaf: BaseException = error
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf
