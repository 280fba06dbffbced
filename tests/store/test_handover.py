"""Hand-over notices between replicas: PostgreSQL's LISTEN/NOTIFY through the store.

A replica giving leases back on purpose says so; the others hear it (their own schema only,
never their own notice) and keep hearing after the listening connection is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from aom_bot.clock import ManualClock
from aom_bot.follow.leases import LeaseBook
from aom_bot.store import Store, open_store, pg_handover
from tests.store.conftest import Backend

pytestmark = pytest.mark.timeout(60)

TTL = timedelta(seconds=30)
PING = "ping:"


@contextlib.asynccontextmanager
async def listening(store: Store, pinger: Store) -> AsyncIterator[AsyncIterator[str]]:
    """The store's notices, once its LISTEN is in force (a ping from ``pinger`` came through)."""
    notices = store.handovers()
    try:
        await until_heard(notices, pinger.announce_handover)
        yield notices
    finally:
        await notices.aclose()  # type: ignore[attr-defined]


async def until_heard(notices: AsyncIterator[str], send: Callable[[str], Awaitable[None]]) -> None:
    """Ping until one comes through: the listener is listening (later pings are skipped)."""
    first = asyncio.ensure_future(anext(notices))
    try:
        async with asyncio.timeout(15):
            while not first.done():
                await send(PING)
                await asyncio.wait({first}, timeout=0.1)
        assert first.result() == PING
    finally:
        first.cancel()


async def heard(notices: AsyncIterator[str]) -> str:
    """The next notice that is not a ping."""
    async with asyncio.timeout(10):
        while (notice := await anext(notices)) == PING:
            pass
        return notice


@pytest.fixture
def pg_backend(backend: Backend) -> Backend:
    if backend.name != "postgres":
        pytest.skip("NOTIFY is PostgreSQL's; SQLite has no notices")
    return backend


async def test_another_replica_hears_the_hand_over_and_the_announcer_does_not(
    pg_backend: Backend,
) -> None:
    one, two, pinger = [await pg_backend.open() for _ in range(3)]
    await one.migrate()
    async with listening(one, pinger) as mine, listening(two, pinger) as theirs:
        await one.announce_handover("exec:")
        await two.announce_handover("discovery:")
        # each hears only the other's notice: one's own "exec:" never reaches it
        assert await heard(theirs) == "exec:"
        assert await heard(mine) == "discovery:"


async def test_notices_stay_within_their_schema(pg_backend: Backend) -> None:
    here = await pg_backend.open()
    await here.migrate()
    elsewhere = await open_store(pg_backend.url, schema=f"t_{uuid.uuid4().hex[:16]}")
    try:
        async with listening(here, await pg_backend.open()) as notices:
            await elsewhere.announce_handover("exec:")  # another bot, same database
            await (await pg_backend.open()).announce_handover("exec:")
            assert await heard(notices) == "exec:"
            await (await pg_backend.open()).announce_handover("discovery:")
            # had the other schema's notice come through, it would be heard before this one
            assert await heard(notices) == "discovery:"
    finally:
        await elsewhere.aclose()


async def test_a_clean_stop_and_a_newcomer_are_announced(pg_backend: Backend) -> None:
    """The lease book says so when a replica stops, and when one joins (the others shed)."""
    clock = ManualClock(start=datetime(2025, 3, 1, 12, tzinfo=UTC))
    watcher, leaving = await pg_backend.open(), await pg_backend.open()
    await watcher.migrate()
    book = LeaseBook(store=leaving, owner="r1", clock=clock, ttl=TTL, rng=random.Random(1))
    async with listening(watcher, await pg_backend.open()) as notices:
        await book.share({"exec:wf/1", "exec:wf/2"})
        assert await heard(notices) == "exec:"  # a new heartbeat: r1 joined
        await book.share({"exec:wf/1", "exec:wf/2"})  # renewing announces nothing
        await book.release_all()
        assert await heard(notices) == "exec:"
        assert await watcher.lease_holders("exec:", clock.now()) == {}


async def test_the_listener_hears_again_after_its_connection_is_killed(
    pg_backend: Backend,
) -> None:
    store = await pg_backend.open()
    await store.migrate()
    notices = pg_handover.listen(store._conn, "schema-x", "me", recheck=0.2)  # type: ignore[attr-defined]
    outside = await asyncpg.connect(pg_backend.url)

    async def send(prefix: str) -> None:
        notice = pg_handover.payload("schema-x", "someone", prefix)
        await outside.execute("SELECT pg_notify($1, $2)", pg_handover.CHANNEL, notice)

    try:
        await until_heard(notices, send)
        await outside.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
        )
        # it notices within ``recheck``, listens again after 1 s of back-off
        await until_heard(notices, send)
    finally:
        await outside.close()
        await notices.aclose()  # type: ignore[attr-defined]


async def test_sqlite_has_nobody_to_tell(backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite only")
    store = await backend.open()
    await store.migrate()
    await store.announce_handover("exec:")  # no error, nothing to do
