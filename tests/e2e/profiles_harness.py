"""Two AOM projects for the profile tests: two simulators with different credentials, the
``aom-bot.toml`` that binds a channel to each, and a real bot process whose log is a file.

prod accepts only its AK/SK signature, staging only its static ``X-Auth-Token``: a request that
reached a simulator with the other project's credentials would be refused, and an execution of
one project is unknown to the other (their seeds, so their IDs, differ).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from aom_bot.simulator import (
    RequestCounter,
    SimulatorCredentials,
    SimulatorServer,
    World,
    build_world,
    create_simulator_app,
)
from tests.e2e.test_bot_process import SECRET, HandClock, free_port
from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.slack_signing import (
    USER_ID,
    block_actions_body,
    sign_request,
    slash_command_body,
)

PROD_CHANNEL = "C0PROD0001"
STAGING_CHANNEL = "C0STAGE001"
PROD_AK = "PRODE2EACCESSKEY0001"
PROD_SK = "prod-e2e-secret-key-7f3c9a1b2d4e6f80"
STAGING_TOKEN = "MIIstaging-e2e-static-token-5b8d0c2e4a6f"


@dataclass
class Project:
    """One simulated AOM project and what it has been asked."""

    name: str
    region: str
    channel: str
    world: World
    requests: RequestCounter
    server: SimulatorServer
    #: the simulator's Authenticator: ``.credentials`` is what it accepts (a test may swap it)
    authenticator: Any

    @property
    def label(self) -> str:
        """How the bot's cards name this profile."""
        return f"{self.name} · {self.region}"

    @property
    def workflow(self) -> str:
        return self.world.workflow_ids()[0]

    @property
    def workflow_name(self) -> str:
        return str(self.world.workflow_page()["elements"][0]["name"])

    def current_run(self) -> str:
        """The run of the first workflow that started when the world was built."""
        return self.world.execution_ids(self.workflow)[0]

    def executions_asked(self) -> set[str]:
        """Every execution this simulator was asked about."""
        return {r.execution_id for r in self.requests.records if r.execution_id}

    def workflows_asked(self) -> set[str]:
        return {r.workflow_id for r in self.requests.records if r.workflow_id}


@contextmanager
def two_projects(clock: HandClock, scenario: str) -> Iterator[tuple[Project, Project]]:
    """prod (cn-north-4, AK/SK) and staging (cn-east-3, a static token), both serving
    ``scenario`` on ``clock``."""
    made: list[Project] = []
    try:
        for name, region, channel, seed, credentials in (
            ("prod", "cn-north-4", PROD_CHANNEL, 5,
             SimulatorCredentials(ak=PROD_AK, sk=PROD_SK)),
            ("staging", "cn-east-3", STAGING_CHANNEL, 6,
             SimulatorCredentials(tokens=frozenset({STAGING_TOKEN}))),
        ):  # fmt: skip
            world = build_world(seed=seed, clock=clock, scenarios=[scenario])
            requests = RequestCounter()
            app = create_simulator_app(world, credentials=credentials, requests=requests)
            server = SimulatorServer(app)
            server.start()
            made.append(
                Project(name, region, channel, world, requests, server, app.state.authenticator)
            )
        yield made[0], made[1]
    finally:
        for project in made:
            project.server.stop()


PROD_ONLY_HERE = f"""
[[allow]]
profiles = ["prod"]
actions = ["read", "follow", "subscribe"]
channels = ["{PROD_CHANNEL}"]

[[allow]]
profiles = ["staging"]
actions = ["read", "follow", "subscribe"]
channels = ["{STAGING_CHANNEL}"]
"""
ONCALL_GROUP = "S0ONCALL1"
#: with PROD_ONLY_HERE: the on-call group may also read prod from staging's channel
#: (``--profile prod``)
PROD_READABLE_FROM_STAGING = f"""
[[allow]]
profiles = ["prod"]
actions = ["read"]
channels = ["{STAGING_CHANNEL}"]
groups = ["{ONCALL_GROUP}"]
"""


def config_text(prod: Project, staging: Project, *, rules: str = PROD_ONLY_HERE,
                prod_credentials: str = '{ ak_env = "PROD_AK", sk_env = "PROD_SK" }',
                swapped: bool = False) -> str:  # fmt: skip
    """The README's prod/staging file, pointed at the two simulators (``swapped``: each
    channel bound to the other project)."""
    bound = ("staging", "prod") if swapped else ("prod", "staging")
    return f"""
default_profile = "staging"

[profiles.prod]
region = "{prod.region}"
project_id = "{prod.world.project_id}"
endpoint = "{prod.server.base_url}"
credentials = {prod_credentials}

[profiles.staging]
region = "{staging.region}"
project_id = "{staging.world.project_id}"
endpoint = "{staging.server.base_url}"
credentials = {{ token_env = "STAGING_TOKEN" }}

[channels]
{PROD_CHANNEL} = "{bound[0]}"
{STAGING_CHANNEL} = "{bound[1]}"
{rules}
"""


def profiles_environment(config: Path, slack: FakeSlack, database: Path) -> dict[str, str]:
    """The bot's environment: Slack, the store, the file and the secrets it references; no
    AOM_* or CLOUD_SDK_* settings (so no ``default`` profile from the environment)."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "AOM_", "CLOUD_SDK_"))
        },
        "AOM_BOT_CONFIG": str(config),
        "PROD_AK": PROD_AK,
        "PROD_SK": PROD_SK,
        "STAGING_TOKEN": STAGING_TOKEN,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.base_url,
        "AOM_BOT_DATABASE_URL": f"sqlite:///{database}",
        "AOM_BOT_POLL_MIN_SECONDS": "0.1",
        "AOM_BOT_POLL_MAX_SECONDS": "0.3",
        "AOM_BOT_DISCOVERY_SECONDS": "0.2",
        "AOM_BOT_LOG_FORMAT": "json",
        "HOSTNAME": "e2e-profiles",
        "AOM_BOT_REPLICA_ID": "e2e-profiles",  # a restart takes its claims back at once
    }


def add_channels(slack: FakeSlack) -> None:
    for name, channel in (("prod", PROD_CHANNEL), ("staging", STAGING_CHANNEL)):
        slack.add_channel(name, id=channel, members=[USER_ID])


@dataclass
class RunningBot:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for_log(self, text: str, *, count: int = 1, timeout: float = 15) -> None:  # noqa: ASYNC109
        """Until ``text`` is in the log ``count`` times (the log is another process's file)."""
        async with asyncio.timeout(timeout):
            while self.log_text().count(text) < count:
                if self.process.returncode is not None:
                    raise AssertionError(f"the bot exited: {self.log_text()[-2000:]}")
                await asyncio.sleep(0.05)  # the log is written by another process

    async def reload(self, config: Path, text: str, *, expect: str) -> None:
        """Write the file anew, send SIGHUP, and wait for the reload's log line."""
        before = self.log_text().count(expect)
        await asyncio.to_thread(config.write_text, text)
        self.process.send_signal(signal.SIGHUP)
        await self.wait_for_log(expect, count=before + 1)

    async def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            await self.process.wait()
        assert self.process.returncode == 0, self.log_text()[-2000:]


@asynccontextmanager
async def bot_process(env: dict[str, str], log: Path) -> AsyncIterator[RunningBot]:
    """``aom-bot run --mode http`` logging to ``log`` (appended: a restart keeps the first run's
    lines), once /healthz answers."""
    port = free_port()
    with log.open("ab") as sink:
        process = await _start(env, port, sink)
    bot = RunningBot(process, port, log)
    try:
        async with httpx.AsyncClient() as client, asyncio.timeout(30):
            while True:
                if process.returncode is not None:
                    raise AssertionError(f"bot exited early: {bot.log_text()[-2000:]}")
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)  # waiting for a subprocess to listen, not for time
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _start(env: dict[str, str], port: int, sink: IO[bytes]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aom_bot", "run", "--mode", "http", "--host", "127.0.0.1",
        "--port", str(port), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=sink,
    )  # fmt: skip


async def command(
    slack: FakeSlack, bot: RunningBot, text: str, channel: str, *, user: str = USER_ID
) -> str:
    """Send ``/aom-exec text`` from ``channel`` (as Alice); the id of its response_url."""
    url = slack.response_url(channel, user)
    body = slash_command_body(text, response_url=url, channel_id=channel, user_id=user)
    headers = sign_request(body, SECRET, int(time.time()))
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            f"http://127.0.0.1:{bot.port}/slack/events", content=body, headers=headers
        )
    assert reply.status_code == 200, reply.text
    return url.rsplit("/", 1)[-1]


async def click(
    slack: FakeSlack, bot: RunningBot, card: RecordedCall, action_id: str, channel: str
) -> str:
    """Press the button ``action_id`` of ``card`` as Alice, as if in ``channel``; the id of the
    click's response_url."""
    [value] = [
        element["value"]
        for block in card.args["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == action_id
    ]
    url = slack.response_url(channel, USER_ID, original_ts=card.response["ts"])
    body = block_actions_body(
        action_id, value, message_ts=card.response["ts"], response_url=url,
        channel_id=channel, user_id=USER_ID,
    )  # fmt: skip
    headers = sign_request(body, SECRET, int(time.time()))
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            f"http://127.0.0.1:{bot.port}/slack/events", content=body, headers=headers
        )
    assert reply.status_code == 200, reply.text
    return url.rsplit("/", 1)[-1]


def is_card(call: RecordedCall, channel: str, execution_id: str | None = None) -> bool:
    """A top-level message of the bot in ``channel`` (about ``execution_id``)."""
    return (
        call.method == "chat.postMessage"
        and call.args.get("channel") == channel
        and "thread_ts" not in call.args
        and (execution_id is None or execution_id in str(call.args.get("blocks")))
    )


def is_answer(call: RecordedCall, hook_id: str) -> bool:
    """A message sent through one command's response_url."""
    return call.method == "response_url" and call.args.get("hook_id") == hook_id


def is_completion_in(call: RecordedCall, channel: str) -> bool:
    metadata = call.args.get("metadata") or {}
    return (
        call.method == "chat.postMessage"
        and call.args.get("channel") == channel
        and metadata.get("event_type") == "aom_bot_completion"
    )
