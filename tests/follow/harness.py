"""A small world for follow-engine tests: simulated AOM, FakeSlack, SQLite, simulated time.

Time only moves when a test says so. ``settle`` waits (in real time, bounded) until every busy
task of the engine is sleeping on the simulated clock and nothing is queued: real waiting is
only ever for I/O (SQLite's thread, FakeSlack's socket), never a race against the clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.aom.accounts import AomAccounts
from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.clock import ManualClock
from aom_bot.follow.engine import EngineOptions, FollowEngine
from aom_bot.simulator.app import create_simulator_app
from aom_bot.simulator.auth import SimulatorCredentials
from aom_bot.simulator.faults import Faults, RequestCounter
from aom_bot.simulator.world import World
from aom_bot.slack.notifier import SlackNotifier
from aom_bot.store import Store, open_store
from tests.fakes.slack_api import FakeSlack

_T = TypeVar("_T")


class TrackingClock(ManualClock):
    """ManualClock that knows which tasks are asleep on it (and until when)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: dict[asyncio.Task[Any], float] = {}

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        if task is not None and seconds > 0:
            self.waits[task] = self.monotonic() + seconds
        try:
            await super().sleep(seconds)
        finally:
            if task is not None:
                self.waits.pop(task, None)

    def asleep(self, task: asyncio.Task[Any]) -> bool:
        """True while ``task`` waits for a simulated moment that has not come yet."""
        deadline = self.waits.get(task)
        return deadline is not None and deadline > self.monotonic()


async def settle(
    clock: TrackingClock,
    *engines: FollowEngine,
    patience: float = 10.0,
    also: Iterable[asyncio.Task[Any]] = (),
) -> None:
    """Wait until the engines (and the tasks ``also``) are idle, done or asleep on the clock
    (bounded real-time wait)."""
    others = list(also)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + patience
    quiet_rounds = 0
    while loop.time() < give_up:
        await asyncio.sleep(0)
        quiet = all(
            not e.has_pending_work and all(clock.asleep(t) for t in e.busy_tasks()) for e in engines
        ) and all(
            t.done() or clock.asleep(t) or any(t in e.waiting_tasks() for e in engines)
            for t in others
        )
        if quiet:
            quiet_rounds += 1
            if quiet_rounds >= 5:
                return
        else:
            quiet_rounds = 0
            await asyncio.sleep(0.001)  # let threads and sockets deliver
    raise AssertionError("the follow engine never settled")


async def advance(
    clock: TrackingClock,
    seconds: float,
    *engines: FollowEngine,
    also: Iterable[asyncio.Task[Any]] = (),
) -> None:
    """Move simulated time forward, stopping at every sleeper's deadline and settling."""
    target = clock.monotonic() + seconds
    others = list(also)
    await settle(clock, *engines, also=others)
    while True:
        due = clock.next_deadline()
        now = clock.monotonic()
        if due is None or now + due > target:
            clock.advance(target - now)
            await settle(clock, *engines, also=others)
            return
        clock.advance(max(due, 0.0))
        await settle(clock, *engines, also=others)


@dataclass
class Rig:
    """Everything a follow test touches."""

    clock: TrackingClock
    world: World
    faults: Faults
    requests: RequestCounter
    aom: AomClient
    slack: FakeSlack
    notifier: SlackNotifier
    store_url: str
    store: Store
    engines: list[FollowEngine] = field(default_factory=list)
    runs: list[asyncio.Task[None]] = field(default_factory=list)
    extra_stores: list[Store] = field(default_factory=list)
    #: tasks of the test itself (e.g. ``follow()`` calls) that time must wait for too
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def track(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        """Run ``coro`` in a task that ``advance``/``settle`` wait for like the engines."""
        task = asyncio.create_task(coro)
        self.tasks.append(task)
        return task

    def execution(self, scenario: str, *, name: str | None = None) -> tuple[str, str]:
        """A new run of ``scenario`` starting now: (workflow id, execution id)."""
        workflow_id = self.world.add_workflow(name or f"{scenario}-{len(self.world.workflow_ids())}",
                                              scenario=scenario)  # fmt: skip
        return workflow_id, self.world.add_execution(workflow_id)

    def engine(
        self, *, store: Store | None = None, owner: str = "replica-a", **overrides: Any
    ) -> FollowEngine:
        """A FollowEngine over this rig (not running yet)."""
        source = overrides.pop("source", self.aom)
        options = EngineOptions(
            owner=owner,
            poll_min=5.0,
            poll_max=30.0,
            max_follow=timedelta(hours=24),
            broadcast_failures=True,
            rng=random.Random(7),
        )
        engine = FollowEngine(
            accounts=AomAccounts.single(source),
            store=store or self.store,
            notifier=overrides.pop("notifier", self.notifier),
            clock=overrides.pop("clock", self.clock),
            options=dataclasses.replace(options, **overrides),
        )
        self.engines.append(engine)
        return engine

    async def start(self, engine: FollowEngine) -> asyncio.Task[None]:
        """Run the engine's loop in a task and let it load the store."""
        task = asyncio.create_task(engine.run())
        self.runs.append(task)
        await settle(self.clock, engine)
        return task

    async def second_store(self) -> Store:
        """Another connection to the same database (a restarted process, another replica)."""
        store = await open_store(self.store_url)
        self.extra_stores.append(store)
        return store

    async def advance(self, seconds: float, *engines: FollowEngine) -> None:
        await advance(self.clock, seconds, *(engines or tuple(self.engines)), also=self.tasks)

    async def settle(self, *engines: FollowEngine) -> None:
        await settle(self.clock, *(engines or tuple(self.engines)), also=self.tasks)

    # -- what Slack shows -------------------------------------------------------------------------

    def card(self, channel: str, ts: str) -> dict[str, Any]:
        return self.slack.message(channel, ts)

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return self.slack.thread(channel, ts)[1:]

    def updates_of(self, ts: str) -> int:
        return sum(1 for c in self.slack.calls_to("chat.update") if c.args.get("ts") == ts and c.ok)

    def status_requests(self, execution_id: str) -> int:
        return self.requests.count("status", execution_id)


def card_text(message: dict[str, Any]) -> str:
    """All text a person sees on a message (fallback text and every block's text)."""
    parts: list[str] = [str(message.get("text", ""))]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks", []))
    return "\n".join(parts)


def action_ids(message: dict[str, Any]) -> set[str]:
    """The action ids of the message's buttons."""
    found: set[str] = set()
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            found.add(element.get("action_id", ""))
    return found


@asynccontextmanager
async def make_rig(tmp_path: Path, *, speed: float = 0.1, seed: int = 3,
                   notifier_factory: Callable[[AsyncWebClient, ManualClock], SlackNotifier] | None = None,
                   ) -> AsyncIterator[Rig]:  # fmt: skip
    """Build a rig and tear it down (engines stopped, stores and clients closed)."""
    clock = TrackingClock()
    world = World(seed=seed, clock=lambda: clock.now().timestamp(), speed=speed)
    faults = Faults()
    requests = RequestCounter()

    async def no_latency(_: float) -> None:
        return None

    app = create_simulator_app(world, credentials=SimulatorCredentials(), faults=faults,
                               requests=requests, sleep=no_latency)  # fmt: skip
    http = build_http_client(base_url="http://aom.test", auth=None,
                             transport=httpx.ASGITransport(app=app))  # fmt: skip
    aom = AomClient(http, project_id=world.project_id, retry=RetryPolicy(attempts=1))
    store_url = f"sqlite:///{tmp_path / 'follow.db'}"
    store = await open_store(store_url)
    await store.migrate()
    async with FakeSlack(clock=clock.monotonic) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        notifier = (notifier_factory or (lambda c, k: SlackNotifier(c, clock=k)))(client, clock)
        rig = Rig(clock, world, faults, requests, aom, slack, notifier, store_url, store)
        try:
            yield rig
        finally:
            for engine in rig.engines:
                await asyncio.wait_for(engine.stop(), 5)
            for task in [*rig.runs, *rig.tasks]:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*rig.runs, *rig.tasks, return_exceptions=True)
            for other in rig.extra_stores:
                await other.aclose()
            await store.aclose()
            await aom.aclose()
