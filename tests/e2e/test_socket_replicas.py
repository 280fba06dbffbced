"""Two real bot processes in Socket Mode on one PostgreSQL: each holds its own connection, Slack
gives each envelope to one of them, and whichever gets it answers; follows started on either are
completed exactly once. (HTTP-mode replicas: ``test_replicas.py``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.test_bot_process import (
    HandClock,
    bot_environment,
    free_port,
    is_completion,
    simulator,
)
from tests.e2e.test_replicas import LEASE, fresh_schema, is_card
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_signing import CHANNEL_ID, USER_ID, slash_command_fields

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(240),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]


@contextlib.asynccontextmanager
async def socket_replica(env: dict[str, str], log: Path):  # type: ignore[no-untyped-def]
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aom_bot", "run", "--mode", "socket", "--host", "127.0.0.1",
            "--health-port", str(free_port()), env=env, stdout=asyncio.subprocess.DEVNULL,
            stderr=sink,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(15):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def test_each_envelope_is_answered_by_the_replica_it_reached_and_once(
    tmp_path: Path,
) -> None:
    clock = HandClock()
    async with fresh_schema() as (dsn, schema), FakeSlack() as slack:
        with simulator(clock) as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            runs = [demo.world.start_execution(workflow) for _ in range(6)]
            clock.offset = 5
            env = bot_environment(aom_env, slack, tmp_path / "unused.sqlite3")
            env.pop("AOM_BOT_REPLICA_ID")  # identical configuration: each process names itself
            del env["SLACK_SIGNING_SECRET"]
            env |= {
                "SLACK_APP_TOKEN": slack.app_token,
                "AOM_BOT_DATABASE_URL": f"{dsn}?schema={schema}",
                "AOM_BOT_LEASE_SECONDS": str(LEASE),
            }
            async with contextlib.AsyncExitStack() as stack:
                first = await stack.enter_async_context(socket_replica(env, tmp_path / "a.log"))
                await slack.socket_mode.wait_connected(1, timeout=60)
                second = await stack.enter_async_context(socket_replica(env, tmp_path / "b.log"))
                await slack.socket_mode.wait_connected(2, timeout=60)
                assert slack.socket_mode.open_connections == 2
                url = slack.response_url(CHANNEL_ID, USER_ID)
                for n, run in enumerate(runs):  # alternately to each replica's connection
                    fields = slash_command_fields(f"follow {workflow} {run}", response_url=url)
                    # returns once the replica holding that connection acked it (or raises)
                    await slack.socket_mode.deliver_slash_command(fields, to=n % 2, timeout=10)
                posts = await slack.wait_for(is_card, count=len(runs), timeout=90)
                cards = [p.response["ts"] for p in posts]
                assert len(set(cards)) == len(runs)  # one card per command, none twice
                clock.offset = 600  # every run ends
                await slack.wait_for(is_completion, count=len(cards), timeout=90)
                await asyncio.sleep(2.0)  # a duplicate would come within the next polls
                replies = Counter(c.args["thread_ts"] for c in slack.calls if is_completion(c))
                assert replies == Counter(cards)  # exactly one completion per follow
                assert len([c for c in slack.calls if is_card(c)]) == len(runs)
                assert first.returncode is None
                assert second.returncode is None
