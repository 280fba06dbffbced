"""Exactly once across a crash: the real bot process is killed with SIGKILL between a
Terminate click and AOM's answer, then started again over the same SQLite file.

AOM is the simulator in a thread; the terminate request is held in it (its latency hook waits
for the test) so the kill lands while the request is in flight. After the restart nothing is
sent again: the sweep calls the action ``unknown`` (``AOM_BOT_ACTION_UNKNOWN_SECONDS`` is
short here), says so in the channel, a second click is refused, and ``aom-bot audit --json``
shows the row.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aom_bot.simulator import (
    Faults,
    RequestCounter,
    SimulatorCredentials,
    SimulatorServer,
    World,
    build_world,
    create_simulator_app,
)
from tests.e2e.profiles_harness import (
    RunningBot,
    bot_process,
    click,
    command,
    is_answer,
    is_card,
    profiles_environment,
)
from tests.e2e.test_bot_process import HandClock
from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.slack_signing import CHANNEL_ID, USER_ID

pytestmark = pytest.mark.timeout(150)

TOKEN = "MIIoperate-e2e-static-token-1c9e7a3f5b"
#: the README's shape: actions granted in the configuration file
CONFIG = """
default_profile = "prod"

[profiles.prod]
region = "cn-north-4"
project_id = "{project}"
endpoint = "{endpoint}"
credentials = {{ token_env = "STAGING_TOKEN" }}

[[allow]]
profiles = ["prod"]
actions = ["read", "follow", "subscribe", "terminate", "retry", "run"]
"""


@dataclass
class HeldAom:
    """The simulator, with a hold on every request while ``holding`` (its latency hook)."""

    world: World
    faults: Faults
    requests: RequestCounter
    server: SimulatorServer
    release: threading.Event

    def hold(self) -> None:
        self.release.clear()
        self.faults.latency_seconds = 1.0  # makes the app await the hook below

    def let_go(self) -> None:
        self.faults.latency_seconds = 0.0
        self.release.set()


@contextmanager
def held_aom(clock: HandClock) -> Iterator[HeldAom]:
    world = build_world(seed=7, clock=clock, scenarios=["all-success"])
    release = threading.Event()
    release.set()

    async def wait_for_release(_seconds: float) -> None:
        await asyncio.to_thread(release.wait)  # the simulator's loop stays free meanwhile

    faults, requests = Faults(), RequestCounter()
    app = create_simulator_app(
        world,
        credentials=SimulatorCredentials(tokens=frozenset({TOKEN})),
        faults=faults,
        requests=requests,
        sleep=wait_for_release,
    )
    server = SimulatorServer(app)
    server.start()
    try:
        yield HeldAom(world, faults, requests, server, release)
    finally:
        release.set()
        server.stop()


async def _until(check: Any, what: str, timeout: float = 15) -> None:  # noqa: ASYNC109
    """Until ``check()`` holds: another process (or thread) is doing the work."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                if check():
                    return
                await asyncio.sleep(0.05)  # polling another process, not waiting for time
    except TimeoutError:
        raise AssertionError(f"waited {timeout}s for: {what}") from None


async def _audit_json(env: dict[str, str]) -> list[dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aom_bot", "audit", "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


async def _card(slack: FakeSlack, bot: RunningBot, wf: str, ex: str) -> RecordedCall:
    await command(slack, bot, f"show {wf} {ex}", CHANNEL_ID)
    [call] = await slack.wait_for(lambda c: is_card(c, CHANNEL_ID, ex), timeout=15)
    return call


async def test_sigkill_mid_terminate_sends_nothing_again_and_audits_unknown(
    tmp_path: Path,
) -> None:
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    log = tmp_path / "bot.log"
    with held_aom(clock) as aom:
        config.write_text(CONFIG.format(project=aom.world.project_id, endpoint=aom.server.base_url))
        wf = aom.world.workflow_ids()[0]
        ex = aom.world.execution_ids(wf)[0]
        async with FakeSlack() as slack:
            env = profiles_environment(config, slack, tmp_path / "bot.db")
            env["STAGING_TOKEN"] = TOKEN
            env["AOM_BOT_ACTION_UNKNOWN_SECONDS"] = "1"
            async with bot_process(env, log) as bot:
                card = await _card(slack, bot, wf, ex)
                aom.hold()
                await click(slack, bot, card, "aom_exec.terminate", CHANNEL_ID)
                await _until(lambda: aom.requests.count("terminate", ex) == 1, "terminate sent")
                bot.process.send_signal(signal.SIGKILL)  # AOM has not answered yet
                await bot.process.wait()
            aom.let_go()
            assert "action.audit" not in log.read_text()  # nothing was finished before the kill

            async with bot_process(env, log) as bot:
                await bot.wait_for_log("outcome=unknown")
                told = await slack.wait_for(
                    lambda c: (
                        c.method == "chat.postMessage"
                        and "interrupted before AOM answered" in c.args.get("text", "")
                    ),
                    timeout=15,
                )
                assert f"<@{USER_ID}>'s terminate" in told[0].args["text"]
                hook = await click(slack, bot, card, "aom_exec.terminate", CHANNEL_ID)
                [answer] = await slack.wait_for(lambda c: is_answer(c, hook), timeout=15)
                assert "unknown outcome" in answer.args["text"]
                assert aom.requests.count("terminate", ex) == 1
                await bot.stop()
            rows = await _audit_json(env)
    assert aom.requests.count("terminate", ex) == 1
    [row] = [r for r in rows if r["action"] == "terminate"]
    assert (row["outcome"], row["user_id"], row["execution_id"]) == ("unknown", USER_ID, ex)
    assert (row["workflow_id"], row["channel_id"], row["profile"]) == (wf, CHANNEL_ID, "prod")
    assert row["detail"] == "interrupted before AOM answered"
    assert TOKEN not in json.dumps(rows)
    assert TOKEN not in log.read_text()
    assert log.read_text().count("action.audit") == 1  # one line, by the restarted bot
