"""The real bot process through store outages: nothing freezes, nothing exits, nothing repeats.

SQLite is locked by another process (this test's) for 30 s and for 70 s, the second spanning
the engine's 60 s resync; PostgreSQL sits behind a TCP proxy on 127.0.0.1 that blackholes
(holds every byte, accepts but does not connect) for 10 s and for 65 s. The outages last real
seconds because the bot is a real process; everything else waits on events, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from aom_bot.store import open_store
from tests.e2e.test_bot_process import (
    HandClock,
    bot_environment,
    free_port,
    is_completion,
    send_command,
    simulator,
)
from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.slack_signing import CHANNEL_ID, USER_ID
from tests.store.conftest import require_postgres

FOLLOWS = 3


def tail(log: Path, size: int) -> str:
    return log.read_text(errors="replace")[-size:]


@contextlib.asynccontextmanager
async def bot_process(
    env: dict[str, str], port: int, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``aom-bot run --mode http`` logging to a file (an outage logs more than a pipe holds)."""
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aom_bot", "run", "--mode", "http", "--host", "127.0.0.1",
            "--port", str(port), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
        try:
            async with asyncio.timeout(30):
                while True:
                    assert process.returncode is None, tail(log, 2000)
                    with contextlib.suppress(httpx.TransportError):
                        if await healthz(port) == 200:
                            break
                    await asyncio.sleep(0.05)  # waiting for a subprocess to listen
            yield process
        except BaseException:
            print(tail(log, 6000))  # the bot's side of a failure
            raise
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


class BlackholeProxy:
    """A TCP proxy to ``upstream`` that can blackhole: while closed, bytes are held, not lost,
    and new connections are accepted but not connected on (as a network that drops packets
    looks to both ends); when it opens again everything flows as TCP's retransmission would."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._open = asyncio.Event()
        self._open.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> BlackholeProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._open.set()
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def blackhole(self) -> None:
        self._open.clear()

    def restore(self) -> None:
        self._open.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._open.wait()
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()


async def healthz(port: int) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code


async def wait_for_health(port: int, status: int, timeout: float) -> None:  # noqa: ASYNC109
    """Poll another process's /healthz until it says ``status`` (bounded)."""
    async with asyncio.timeout(timeout):
        while await healthz(port) != status:  # noqa: ASYNC110 - the state is another process's
            await asyncio.sleep(0.2)


def update_of(ts: str, after: set[int]) -> object:
    def matches(call: RecordedCall) -> bool:
        return call.method == "chat.update" and call.args.get("ts") == ts and id(call) not in after

    return matches


async def follow_runs(
    slack: FakeSlack,
    port: int,
    workflow: str,
    runs: list[str],
    store_url: str,
    schema: str | None = None,
) -> list[str]:
    """Follow each run through the bot's slash command; the cards' ts, in order."""
    url = slack.response_url(CHANNEL_ID, USER_ID)
    cards = []
    for n, execution in enumerate(runs, start=1):
        reply = await send_command(port, f"follow {workflow} {execution}", url)
        assert reply.status_code == 200
        posts = await slack.wait_for(
            lambda c: c.method == "chat.postMessage" and "thread_ts" not in c.args,
            count=n,
            timeout=20,
        )
        cards.append(posts[-1].response["ts"])
    await wait_until_stored(store_url, schema, len(runs))
    return cards


async def wait_until_stored(store_url: str, schema: str | None, count: int) -> None:
    """Until the bot has stored every card it posted (read from the test's side, bounded)."""
    store = await open_store(store_url, schema=schema) if schema else await open_store(store_url)
    try:
        async with asyncio.timeout(20):
            while True:
                follows = await store.active_follows()
                if len([f for f in follows if f.message_ts and f.fingerprint]) >= count:
                    return
                await asyncio.sleep(0.05)  # the state lives in another process
    finally:
        await store.aclose()


async def ride_out(
    slack: FakeSlack,
    clock: HandClock,
    port: int,
    bot: asyncio.subprocess.Process,
    cards: list[str],
    outage: contextlib.AbstractAsyncContextManager[None],
) -> None:
    """During ``outage`` /healthz says 503; after it every card is edited again, no exit."""
    async with outage:
        clock.offset = 12  # hosts move on while the store is out (the run lasts ~37 s)
        await wait_for_health(port, 503, timeout=20)
    assert bot.returncode is None, "the bot exited during the outage"
    seen = {id(c) for c in slack.calls}
    clock.offset = 18  # and again once it is back: every card must show it
    for ts in cards:
        # bounded generously (a busy CI machine); with 0.1-0.3 s intervals it comes in < 2 s
        await slack.wait_for(update_of(ts, seen), timeout=15)  # type: ignore[arg-type]
    await wait_for_health(port, 200, timeout=20)
    assert bot.returncode is None


async def finish_once(
    slack: FakeSlack, clock: HandClock, bot: asyncio.subprocess.Process, cards: list[str]
) -> None:
    clock.offset = 600  # every run ends: each follow completes, exactly once
    await slack.wait_for(is_completion, count=len(cards), timeout=30)
    await asyncio.sleep(1.0)  # a duplicate would come within the next polls (0.1-0.3 s)
    bot.send_signal(signal.SIGTERM)
    async with asyncio.timeout(15):
        await bot.wait()
    assert bot.returncode == 0
    replies = [c for c in slack.calls if is_completion(c)]
    assert sorted(c.args["thread_ts"] for c in replies) == sorted(cards)


def sqlite_locked(database: Path, seconds: float) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def outage() -> AsyncIterator[None]:
        conn = sqlite3.connect(database, isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            yield
            await asyncio.sleep(seconds)  # the outage's length (the fault, not a wait for a result)
        finally:
            conn.execute("ROLLBACK")
            conn.close()

    return outage()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seconds", [30, 70])
async def test_sqlite_locked_by_another_process(tmp_path: Path, seconds: float) -> None:
    clock = HandClock()
    database = tmp_path / "bot.sqlite3"
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            runs = [demo.world.execution_ids(workflow)[0]]
            runs += [demo.world.start_execution(workflow) for _ in range(FOLLOWS - 1)]
            clock.offset = 5
            env = bot_environment(aom_env, slack, database)
            port = free_port()
            async with bot_process(env, port, tmp_path / "bot.log") as bot:
                cards = await follow_runs(slack, port, workflow, runs, f"sqlite:///{database}")
                await ride_out(slack, clock, port, bot, cards, sqlite_locked(database, seconds))
                await finish_once(slack, clock, bot, cards)


def blackholed(
    proxy: BlackholeProxy, seconds: float
) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def outage() -> AsyncIterator[None]:
        proxy.blackhole()
        try:
            yield
            await asyncio.sleep(seconds)  # the outage's length (the fault, not a wait for a result)
        finally:
            proxy.restore()

    return outage()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seconds", [10, 65])
async def test_postgres_blackholed(tmp_path: Path, seconds: float) -> None:
    dsn = require_postgres()
    parts = urlsplit(dsn)
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    clock = HandClock()
    async with BlackholeProxy((parts.hostname or "127.0.0.1", parts.port or 5432)) as proxy:
        through = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}")
        try:
            async with FakeSlack() as slack:
                with simulator(clock) as (aom_env, demo):
                    workflow = demo.world.workflow_ids()[0]
                    runs = [demo.world.execution_ids(workflow)[0]]
                    runs += [demo.world.start_execution(workflow) for _ in range(FOLLOWS - 1)]
                    clock.offset = 5
                    env = bot_environment(aom_env, slack, tmp_path / "unused.sqlite3")
                    env["AOM_BOT_DATABASE_URL"] = f"{through.geturl()}?schema={schema}"
                    port = free_port()
                    async with bot_process(env, port, tmp_path / "bot.log") as bot:
                        cards = await follow_runs(slack, port, workflow, runs, dsn, schema)
                        await ride_out(slack, clock, port, bot, cards, blackholed(proxy, seconds))
                        await finish_once(slack, clock, bot, cards)
        finally:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
