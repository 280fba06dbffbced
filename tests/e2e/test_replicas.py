"""Three real bot processes, identical environment, one PostgreSQL: they share the follows.

Each test gets a fresh schema. Who polls what is read from the store's leases (the bot's own
record of it); time-bound waits are bounded generously for a busy 2-core machine. The lease is
3 s here (``AOM_BOT_LEASE_SECONDS``), renewed every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from aom_bot.store import Store, open_store
from tests.e2e.test_bot_process import (
    HandClock,
    bot_environment,
    free_port,
    is_completion,
    send_command,
    simulator,
)
from tests.e2e.test_store_outages import BlackholeProxy, bot_process, wait_for_health
from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.slack_signing import CHANNEL_ID, USER_ID
from tests.store.conftest import require_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(300),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

LEASE = 3.0
INTERVAL = 0.3  # AOM_BOT_POLL_MAX_SECONDS of the e2e environment
#: the default lease, where a hand-over heard and one waited for differ by seconds
LONG_LEASE = 30.0


def is_card(call: RecordedCall) -> bool:
    return call.method == "chat.postMessage" and "thread_ts" not in call.args


@contextlib.asynccontextmanager
async def fresh_schema() -> AsyncIterator[tuple[str, str]]:
    dsn = require_postgres()
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    try:
        yield dsn, schema
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def holders(store: Store) -> dict[str, str]:
    """Execution → the replica whose lease makes it the poller."""
    return await store.lease_holders("exec:", datetime.now(UTC))


async def wait_for_holders(
    store: Store,
    keys: int,
    ok: object,
    timeout: float,  # noqa: ASYNC109
) -> dict[str, str]:
    """Until ``keys`` executions are leased and ``ok(holders)`` holds (bounded)."""
    async with asyncio.timeout(timeout):
        while True:
            now = await holders(store)
            if len(now) == keys and ok(now):  # type: ignore[operator]
                return now
            await asyncio.sleep(0.1)  # the leases are other processes' state


class Cluster:
    """Three ``aom-bot run`` processes on one database, each on its own port."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp = env, tmp
        self.stack = contextlib.AsyncExitStack()
        self.procs: list[asyncio.subprocess.Process] = []
        self.ports: list[int] = []

    async def __aenter__(self) -> Cluster:
        for n in range(3):
            port = free_port()
            proc = await self.stack.enter_async_context(
                bot_process(self.env, port, self.tmp / f"bot{n}.log")
            )
            self.procs.append(proc)
            self.ports.append(port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stack.aclose()

    def by_owner(self, owner: str) -> int:
        """Which of the processes an owner name is (the unique default carries the pid)."""
        pid = int(owner.split(":")[1])
        return next(n for n, p in enumerate(self.procs) if p.pid == pid)


async def follow(slack: FakeSlack, port: int, workflow: str, runs: list[str]) -> list[str]:
    url = slack.response_url(CHANNEL_ID, USER_ID)
    for run in runs:
        assert (await send_command(port, f"follow {workflow} {run}", url)).status_code == 200
    posts = await slack.wait_for(is_card, count=len(runs), timeout=90)
    return [p.response["ts"] for p in posts]


def environment(aom_env: dict[str, str], slack: FakeSlack, tmp: Path, url: str) -> dict[str, str]:
    env = bot_environment(aom_env, slack, tmp / "unused.sqlite3")
    env.pop("AOM_BOT_REPLICA_ID")  # identical configuration: each process names itself
    env["AOM_BOT_DATABASE_URL"] = url
    env["AOM_BOT_LEASE_SECONDS"] = str(LEASE)
    env["AOM_BOT_MAX_FOLLOWS_PER_USER"] = "50"
    return env


async def finish_exactly_once(
    slack: FakeSlack,
    clock: HandClock,
    cards: list[str],
    timeout: float,  # noqa: ASYNC109
) -> None:
    clock.offset = 600  # every run ends
    await slack.wait_for(is_completion, count=len(cards), timeout=timeout)
    await asyncio.sleep(2.0)  # a duplicate would come within the next polls (0.1-0.3 s)
    replies = Counter(c.args["thread_ts"] for c in slack.calls if is_completion(c))
    assert replies == Counter(cards)  # exactly one completion reply per follow
    assert len([c for c in slack.calls if is_card(c)]) == len(cards)  # no duplicate card


def spread(now: dict[str, str]) -> bool:
    counts = Counter(now.values())
    return len(counts) == 3 and max(counts.values()) <= 0.6 * len(now)


async def test_replicas_spread_follows_and_take_over_after_sigkill(tmp_path: Path) -> None:
    clock = HandClock()
    async with fresh_schema() as (dsn, schema), FakeSlack() as slack:
        with simulator(clock) as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            runs = [demo.world.start_execution(workflow) for _ in range(24)]
            clock.offset = 5
            env = environment(aom_env, slack, tmp_path, f"{dsn}?schema={schema}")
            async with Cluster(env, tmp_path) as cluster:
                store = await open_store(dsn, schema=schema)
                try:
                    cards = await follow(slack, cluster.ports[0], workflow, runs)
                    # every follow leased by exactly one replica, none above 60 %
                    now = await wait_for_holders(store, 24, spread, timeout=30)
                    busiest, _ = Counter(now.values()).most_common(1)[0]
                    victim = cluster.by_owner(busiest)
                    cluster.procs[victim].send_signal(signal.SIGKILL)
                    killed = time.monotonic()
                    await wait_for_holders(
                        store, 24, lambda h: busiest not in h.values(), timeout=30
                    )
                    took = time.monotonic() - killed
                    # lease + one resync (a third of it) + an interval; slack for a busy machine
                    assert took <= LEASE + LEASE / 3 + INTERVAL + 2.0, took
                    await finish_exactly_once(slack, clock, cards, timeout=120)
                finally:
                    await store.aclose()


async def test_sigterm_hands_the_leases_over_at_once(tmp_path: Path) -> None:
    """With a 30 s lease the others resync only every 10 s; the stop's notice (NOTIFY) makes
    them take its follows within about a second, not at that resync."""
    clock = HandClock()
    async with fresh_schema() as (dsn, schema), FakeSlack() as slack:
        with simulator(clock) as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            runs = [demo.world.start_execution(workflow) for _ in range(9)]
            clock.offset = 5
            env = environment(aom_env, slack, tmp_path, f"{dsn}?schema={schema}")
            env["AOM_BOT_LEASE_SECONDS"] = str(LONG_LEASE)
            async with Cluster(env, tmp_path) as cluster:
                store = await open_store(dsn, schema=schema)
                try:
                    cards = await follow(slack, cluster.ports[0], workflow, runs)
                    now = await wait_for_holders(store, 9, spread, timeout=60)
                    leaving, _ = Counter(now.values()).most_common(1)[0]
                    proc = cluster.procs[cluster.by_owner(leaving)]
                    proc.send_signal(signal.SIGTERM)
                    async with asyncio.timeout(15):
                        assert await proc.wait() == 0
                    stopped = time.monotonic()
                    await wait_for_holders(
                        store, 9, lambda h: leaving not in h.values(), timeout=10
                    )
                    # the others hold them once they hear the notice (a resync at most a
                    # second apart), far sooner than their next resync (a third of the lease,
                    # 10 s); slack for a busy machine. The last follow's set-up may still be
                    # under way here: it must not take a lease after the hand-over
                    # (tests/store/test_lease_share.py pins that race down).
                    took = time.monotonic() - stopped
                    assert took <= 3.0 < LONG_LEASE / 3, took
                    log = (tmp_path / f"bot{cluster.by_owner(leaving)}.log").read_text()
                    assert "follow.leases_handed_over" in log
                    await finish_exactly_once(slack, clock, cards, timeout=60)
                finally:
                    await store.aclose()


async def test_postgres_cut_mid_follow_stops_polling_then_resumes(tmp_path: Path) -> None:
    clock = HandClock()
    async with fresh_schema() as (dsn, schema), FakeSlack() as slack:
        parts = urlsplit(dsn)
        async with BlackholeProxy((parts.hostname or "127.0.0.1", parts.port or 5432)) as proxy:
            user = parts.username or "postgres"
            through = parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}")
            with simulator(clock) as (aom_env, demo):
                workflow = demo.world.workflow_ids()[0]
                runs = [demo.world.start_execution(workflow) for _ in range(6)]
                clock.offset = 5
                env = environment(aom_env, slack, tmp_path, f"{through.geturl()}?schema={schema}")
                async with Cluster(env, tmp_path) as cluster:
                    store = await open_store(dsn, schema=schema)
                    try:
                        cards = await follow(slack, cluster.ports[0], workflow, runs)
                        await wait_for_holders(store, 6, lambda h: True, timeout=30)
                        proxy.blackhole()
                        for port in cluster.ports:  # each says so
                            await wait_for_health(port, 503, timeout=30)
                        await asyncio.sleep(LEASE + 1)  # the outage outlasts every lease
                        edits = len([c for c in slack.calls if c.method == "chat.update"])
                        clock.offset = 12  # hosts move on: a poller would edit its card
                        await asyncio.sleep(2.0)  # the outage's length, not a wait for a result
                        after = len([c for c in slack.calls if c.method == "chat.update"])
                        assert after == edits, "a replica edited cards on unproven leases"
                        seen = {id(c) for c in slack.calls}
                        proxy.restore()
                        for port in cluster.ports:
                            await wait_for_health(port, 200, timeout=30)
                        for ts in cards:  # polling resumed: each card shows the hosts moved on
                            await slack.wait_for(
                                lambda c, ts=ts: (
                                    c.method == "chat.update"
                                    and c.args.get("ts") == ts
                                    and id(c) not in seen
                                ),
                                timeout=30,
                            )
                        await finish_exactly_once(slack, clock, cards, timeout=60)
                    finally:
                        await store.aclose()
