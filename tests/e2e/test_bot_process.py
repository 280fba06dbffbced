"""The real bot process (``aom-bot run --mode http``), killed with SIGKILL mid-follow.

Everything runs on 127.0.0.1: FakeSlack in this test's event loop, the AOM simulator in a
thread with a clock this test moves by hand (so the execution ends exactly when the test says,
never racing it), and the bot as a subprocess over a SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from aom_bot.simulator import (
    Demo,
    SimulatorServer,
    build_demo,
    create_simulator_app,
    environment_lines,
)
from aom_bot.store import open_store
from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.slack_signing import CHANNEL_ID, USER_ID, sign_request, slash_command_body

SECRET = "e2e-signing-secret"


class HandClock:
    """Simulator time: real time at the start, then only what the test adds."""

    def __init__(self) -> None:
        self.start = time.time()
        self.offset = 0.0

    def __call__(self) -> float:
        return self.start + self.offset


@contextmanager
def simulator(
    clock: HandClock, scenario: str = "mass-failure"
) -> Iterator[tuple[dict[str, str], Demo]]:
    demo = build_demo(scenario, 1.0, seed=5, clock=clock)
    server = SimulatorServer(create_simulator_app(demo.world, credentials=demo.credentials))
    server.start()
    try:
        yield dict(line.split("=", 1) for line in environment_lines(demo, server.base_url)), demo
    finally:
        server.stop()


def bot_environment(aom_env: dict[str, str], slack: FakeSlack, database: Path) -> dict[str, str]:
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "AOM_", "CLOUD_SDK_"))
        },
        **aom_env,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.base_url,
        "AOM_BOT_DATABASE_URL": f"sqlite:///{database}",
        "AOM_BOT_POLL_MIN_SECONDS": "0.1",
        "AOM_BOT_POLL_MAX_SECONDS": "0.3",
        "AOM_BOT_DISCOVERY_SECONDS": "0.2",
        "AOM_BOT_LOG_FORMAT": "json",
        "HOSTNAME": "e2e-replica",
        "AOM_BOT_REPLICA_ID": "e2e-replica",  # pinned: a restart takes its claims back at once
    }


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def bot_process(env: dict[str, str], port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start ``aom-bot run --mode http`` and wait until /healthz answers."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aom_bot", "run", "--mode", "http", "--host", "127.0.0.1",
        "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient() as client, asyncio.timeout(30):
            while True:
                if process.returncode is not None:
                    err = await process.stderr.read() if process.stderr else b""
                    raise AssertionError(f"bot exited early: {err.decode()[-2000:]}")
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)  # waiting for a subprocess to listen, not for time
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def is_card_of(call: RecordedCall, execution_id: str) -> bool:
    return (
        call.method == "chat.postMessage"
        and "thread_ts" not in call.args
        and execution_id in str(call.args.get("blocks"))
    )


def is_completion(call: RecordedCall) -> bool:
    metadata = call.args.get("metadata") or {}
    return call.method == "chat.postMessage" and metadata.get("event_type") == "aom_bot_completion"


async def send_command(port: int, text: str, response_url: str) -> httpx.Response:
    body = slash_command_body(
        text, response_url=response_url, channel_id=CHANNEL_ID, user_id=USER_ID
    )
    headers = sign_request(body, SECRET, int(time.time()))
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"http://127.0.0.1:{port}/slack/events", content=body, headers=headers
        )


async def wait_until_follow_ended(database: Path) -> None:
    """Poll another process's database (nothing to await on across processes), bounded."""
    store = await open_store(f"sqlite:///{database}")
    try:
        async with asyncio.timeout(20):
            while await store.active_follows():  # noqa: ASYNC110 - state lives in another process
                await asyncio.sleep(0.05)
    finally:
        await store.aclose()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_sigkill_mid_follow_then_restart_posts_exactly_one_completion(tmp_path):
    """The follow resumes from the store after SIGKILL and the channel hears the end once."""
    clock = HandClock()
    database = tmp_path / "bot.sqlite3"
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            execution = demo.world.execution_ids(workflow)[0]  # the run starting now
            clock.offset = 10  # the run is under way, with some failed hosts already
            env = bot_environment(aom_env, slack, database)
            port = free_port()
            async with bot_process(env, port) as first:
                reply = await send_command(
                    port, f"follow {workflow} {execution}", slack.response_url(CHANNEL_ID, USER_ID)
                )
                assert reply.status_code == 200
                [card] = await slack.wait_for("chat.postMessage", timeout=15)
                card_ts = card.response["ts"]
                clock.offset = 20  # more hosts finish: the card is edited in place
                await slack.wait_for("chat.update", timeout=15)
                first.kill()  # SIGKILL: no chance to clean up
                await first.wait()
            assert first.returncode == -signal.SIGKILL
            assert not [c for c in slack.calls if is_completion(c)]

            clock.offset = 120  # the run ends while the bot is down
            async with bot_process(env, port) as second:
                [done] = await slack.wait_for(is_completion, timeout=20)
                await wait_until_follow_ended(database)
                second.send_signal(signal.SIGTERM)
                async with asyncio.timeout(15):
                    await second.wait()
                assert second.returncode == 0

    assert done.args["thread_ts"] == card_ts
    assert f"<@{USER_ID}>" in done.args["text"]
    replies = [c for c in slack.calls if is_completion(c)]
    assert len(replies) == 1, [c.args.get("text") for c in replies]
    final = slack.message(CHANNEL_ID, card_ts)
    assert "fail" in final["text"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_sigkill_after_claiming_the_completion_restart_posts_it_at_once(tmp_path):
    """SIGKILL between claiming the completion and posting it: the restarted process (same
    replica name) takes its own claim back and posts the reply within seconds, not after the
    two-minute stale-claim window."""
    clock = HandClock()
    database = tmp_path / "bot.sqlite3"
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            execution = demo.world.execution_ids(workflow)[0]
            clock.offset = 10
            env = bot_environment(aom_env, slack, database)
            port = free_port()
            async with bot_process(env, port) as first:
                await send_command(
                    port, f"follow {workflow} {execution}", slack.response_url(CHANNEL_ID, USER_ID)
                )
                [card] = await slack.wait_for("chat.postMessage", timeout=15)
                first.kill()
                await first.wait()
            # what the killed process got done just before: it claimed the completion
            store = await open_store(f"sqlite:///{database}")
            try:
                [follow] = await store.active_follows()
                claimed = await store.claim_completion(
                    follow.id, env["HOSTNAME"], datetime.now(UTC)
                )
            finally:
                await store.aclose()
            assert claimed

            clock.offset = 120  # the run has ended
            async with bot_process(env, port):
                [done] = await slack.wait_for(is_completion, timeout=20)

    assert done.args["thread_ts"] == card.response["ts"]
    assert len([c for c in slack.calls if is_completion(c)]) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_sigkill_between_posting_the_card_and_recording_it_leaves_one_card(tmp_path):
    """SIGKILL after the card reached Slack but before its ts was stored: the restarted
    process finds the card by its metadata and keeps that one current; no second card."""
    clock = HandClock()
    database = tmp_path / "bot.sqlite3"
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            execution = demo.world.execution_ids(workflow)[0]
            clock.offset = 10
            env = bot_environment(aom_env, slack, database)
            port = free_port()
            async with bot_process(env, port) as first:
                await send_command(
                    port, f"follow {workflow} {execution}", slack.response_url(CHANNEL_ID, USER_ID)
                )
                [card] = await slack.wait_for("chat.postMessage", timeout=15)
                first.kill()
                await first.wait()
            # the state such a kill leaves: the card claimed and posted, its ts never stored
            with sqlite3.connect(database) as raw:
                raw.execute("UPDATE follows SET message_ts = NULL, fingerprint = NULL")
            store = await open_store(f"sqlite:///{database}")
            try:
                [follow] = await store.active_follows()
            finally:
                await store.aclose()
            assert (follow.message_ts, follow.card_owner) == (None, env["HOSTNAME"])

            clock.offset = 120
            async with bot_process(env, port):
                [done] = await slack.wait_for(is_completion, timeout=20)

    assert done.args["thread_ts"] == card.response["ts"]
    assert len([c for c in slack.calls if is_card_of(c, execution)]) == 1
    assert "fail" in slack.message(CHANNEL_ID, card.response["ts"])["text"]


async def test_subscribed_channel_gets_each_new_run_from_the_real_process(tmp_path):
    """`subscribe` through the running bot: a run started afterwards is posted once and followed."""
    clock = HandClock()
    async with FakeSlack() as slack:
        with simulator(clock, "few-failures") as (aom_env, demo):
            workflow = demo.world.workflow_ids()[0]
            clock.offset = 600  # every run so far has finished: history, not to be posted
            port = free_port()
            env = bot_environment(aom_env, slack, tmp_path / "bot.sqlite3")
            async with bot_process(env, port) as bot:
                url = slack.response_url(CHANNEL_ID, USER_ID)
                reply = await send_command(port, f"subscribe {workflow}", url)
                assert reply.status_code == 200
                [confirmation] = await slack.wait_for("chat.postMessage", timeout=15)
                new_run = demo.world.start_execution(workflow)
                [card] = await slack.wait_for(lambda c: is_card_of(c, new_run), timeout=15)
                clock.offset = 900  # the new run ends
                [done] = await slack.wait_for(is_completion, timeout=20)
                bot.send_signal(signal.SIGTERM)
                async with asyncio.timeout(15):
                    await bot.wait()
    assert "subscribed" in confirmation.args["text"].lower()
    assert done.args["thread_ts"] == card.response["ts"]
    cards = [c for c in slack.calls if c.method == "chat.postMessage" and "thread_ts" not in c.args]
    assert cards == [confirmation, card]  # history was not replayed; the new run posted once


async def run_until_exit(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aom_bot", "run", "--mode", "http", "--host", "127.0.0.1",
        "--port", str(free_port()),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_a_refused_bot_token_stops_the_bot_at_start_with_exit_2(tmp_path):
    """Slack answering invalid_auth at start-up is a configuration error, said plainly."""
    clock = HandClock()
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, _):
            env = bot_environment(aom_env, slack, tmp_path / "bot.sqlite3")
            env["SLACK_BOT_TOKEN"] = "xoxb-not-the-right-one"
            code, err = await run_until_exit(env)
    assert code == 2, err
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in err
    assert "xoxb-not-the-right-one" not in err
    assert "Traceback" not in err


async def test_unreachable_slack_at_start_exits_3(tmp_path):
    """No Slack Web API to talk to: a network error (exit 3), not a crash."""
    clock = HandClock()
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, _):
            env = bot_environment(aom_env, slack, tmp_path / "bot.sqlite3")
    env["SLACK_API_URL"] = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    code, err = await run_until_exit(env)
    assert code == 3, err
    assert "Cannot reach Slack" in err
    assert "Traceback" not in err


async def test_run_with_the_simulator_leaves_the_real_store_alone_and_starts_quietly(tmp_path):
    """`run --simulator` keeps its follows out of the default store, and Bolt has nothing to
    warn about at start-up (no "token ... will be ignored")."""
    state = tmp_path / "state"
    async with FakeSlack() as slack:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AOM_"))},
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.base_url,
            "AOM_BOT_STATE_DIR": str(state),
            "AOM_BOT_LOG_FORMAT": "console",
        }
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aom_bot", "run", "--simulator", "--mode", "http",
            "--host", "127.0.0.1", "--port", str(port),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient() as client, asyncio.timeout(30):
                while process.returncode is None:
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).is_success:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)  # waiting for a subprocess to listen
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                _, err = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    log = err.decode()
    assert process.returncode == 0, log
    assert "bot.started" in log
    assert "will be ignored" not in log
    assert not (state / "aom-bot.sqlite3").exists()


async def test_a_refused_app_token_stops_socket_mode_at_start_with_exit_2(tmp_path):
    """Socket Mode with an app token Slack refuses: exit 2 with one line, no retry loop."""
    clock = HandClock()
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, _):
            env = bot_environment(aom_env, slack, tmp_path / "bot.sqlite3")
            env["SLACK_APP_TOKEN"] = "xapp-not-the-right-one"
            env["AOM_BOT_LOG_FORMAT"] = "console"
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aom_bot", "run", "--mode", "socket",
                env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            async with asyncio.timeout(60):
                _, raw = await process.communicate()
    err = raw.decode()
    assert process.returncode == 2, err
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in err
    assert "xapp-not-the-right-one" not in err
    assert "Traceback" not in err
    assert len(slack.calls_to("apps.connections.open")) == 1
