"""The composition root: Settings in, wired clients, store, engine and apps out.

Only this module (and the CLI that calls it) reads :class:`~aom_bot.config.Settings`; everything it
builds takes its collaborators as arguments. Resources are opened and closed with ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from rich.console import Console
from rich.live import Live

from aom_bot.aom.auth import AkSkAuth, TokenAuth
from aom_bot.aom.client import AomClient, build_http_client
from aom_bot.aom.endpoints import iam_endpoint
from aom_bot.aom.ids import validate_id
from aom_bot.aom.models import ExecutionDetail, Workflow
from aom_bot.aom.names import WorkflowNames
from aom_bot.aom.tokens import AgencyIdentity, IamTokenProvider, PasswordIdentity, StaticToken
from aom_bot.config import (
    AkSkCredentials,
    IamAgencyCredentials,
    IamPasswordCredentials,
    Settings,
)
from aom_bot.config import StaticToken as StaticTokenSetting
from aom_bot.errors import AomError, ConfigError, InvalidIdError
from aom_bot.render import SlackMessage, execution_message
from aom_bot.render.links import console_link, validate_console_template
from aom_bot.render.scrub import Scrubber

__all__ = [
    "AomSession",
    "aom_session",
    "build_aom_client",
    "follow_in_terminal",
    "migrate_store",
    "serve_simulator",
    "simulator_settings",
]

#: the base URL the in-process simulator answers on (never resolved: ASGITransport)
SIMULATOR_URL = "http://aom.simulator.local"
#: the scenario `show --simulator` picks when no IDs are given
DEFAULT_DEMO_SCENARIO = "few-failures"


def build_scrubber(settings: Settings) -> Scrubber:
    """The secret scrubber for everything shown from AOM, from AOM_BOT_SCRUB_* settings."""
    return Scrubber(settings.aom_bot_scrub_patterns or None, enabled=settings.aom_bot_scrub_secrets)


def build_aom_client(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> AomClient:
    """An :class:`AomClient` authenticated the one way the settings describe."""
    settings.check_aom()
    project_id = settings.project_id()
    base_url = settings.aom_endpoint_url()
    timeout = httpx.Timeout(
        settings.aom_timeout_seconds, connect=min(10.0, settings.aom_timeout_seconds)
    )
    credentials = settings.aom_auth()
    auth: httpx.Auth
    if isinstance(credentials, AkSkCredentials):
        token = credentials.security_token
        auth = AkSkAuth(
            ak=credentials.ak,
            sk=credentials.sk.get_secret_value(),
            project_id=project_id,
            security_token=token.get_secret_value() if token else None,
        )
    elif isinstance(credentials, StaticTokenSetting):
        auth = TokenAuth(StaticToken(credentials.token.get_secret_value()))
    else:
        auth = TokenAuth(_iam_provider(settings, credentials, project_id, transport, timeout))
    http = build_http_client(base_url=base_url, auth=auth, transport=transport, timeout=timeout)
    return AomClient(http, project_id=project_id)


def _iam_provider(
    settings: Settings,
    credentials: IamPasswordCredentials | IamAgencyCredentials,
    project_id: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout: httpx.Timeout,
) -> IamTokenProvider:
    if settings.aom_iam_endpoint:
        iam_url = settings.aom_iam_endpoint
    elif settings.aom_region:
        iam_url = iam_endpoint(settings.aom_region)
    else:
        raise ConfigError(
            "Token-from-IAM needs AOM_REGION or AOM_IAM_ENDPOINT.", hint="Set AOM_REGION."
        )
    iam_http = build_http_client(base_url=iam_url, auth=None, transport=transport, timeout=timeout)
    user = credentials.user if isinstance(credentials, IamAgencyCredentials) else credentials
    if isinstance(credentials, IamAgencyCredentials):
        own = IamTokenProvider(
            iam_http,
            PasswordIdentity(
                user=user.user,
                password=user.password.get_secret_value(),
                domain=user.domain,
                project_name=settings.aom_region,
                project_id=None if settings.aom_region else project_id,
            ),
        )
        return IamTokenProvider(
            iam_http,
            AgencyIdentity(
                agency_name=credentials.agency_name,
                domain_name=credentials.agency_domain,
                source=own,
                project_id=project_id,
            ),
        )
    return IamTokenProvider(
        iam_http,
        PasswordIdentity(
            user=user.user,
            password=user.password.get_secret_value(),
            domain=user.domain,
            project_id=project_id,
        ),
    )


def simulator_settings(settings: Settings, *, project_id: str, ak: str, sk: str) -> Settings:
    """The settings with AOM pointed at the in-process simulator (other settings kept)."""
    return settings.model_copy(
        update={
            "cloud_sdk_ak": _secret(ak),
            "cloud_sdk_sk": _secret(sk),
            "cloud_sdk_security_token": None,
            "aom_token": None,
            "aom_iam_user": None,
            "aom_iam_password": None,
            "aom_iam_domain": None,
            "aom_project_id": project_id,
            "aom_endpoint": SIMULATOR_URL,
        }
    )


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


@dataclass(slots=True)
class AomSession:
    """What a CLI command needs: the client, names, rendering options and a stdout console."""

    settings: Settings
    client: AomClient
    names: WorkflowNames
    scrubber: Scrubber
    console: Console = field(default_factory=lambda: Console(highlight=False))
    #: with --simulator and no IDs: (the run in progress, the last finished run)
    default_ids: tuple[tuple[str, str], tuple[str, str]] | None = None

    async def resolve_workflow(self, workflow_id: str | None) -> str:
        if workflow_id:
            return validate_id("workflow ID", workflow_id)
        if self.default_ids:
            return self.default_ids[0][0]
        raise InvalidIdError("workflow ID", "")

    async def resolve_ids(
        self, first: str | None, second: str | None, *, live: bool = False
    ) -> tuple[str, str]:
        """IDs from two arguments, or from one pasted console link; validated.

        Without IDs in simulator mode: the run in progress when ``live``, else the last finished.
        """
        from aom_bot.slack.grammar import parse_execution_link

        if first and not second:
            ref = parse_execution_link(first)
            if ref is None:
                raise ConfigError(
                    f"{first[:80]!r} is neither a console link to an execution nor two IDs.",
                    hint="Usage: aom-bot show WORKFLOW_ID EXECUTION_ID",
                )
            return ref.workflow_id, ref.execution_id
        if first and second:
            return validate_id("workflow ID", first), validate_id("execution ID", second)
        if self.default_ids:
            return self.default_ids[0] if live else self.default_ids[1]
        raise ConfigError(
            "Missing WORKFLOW_ID and EXECUTION_ID.",
            hint="Usage: aom-bot show WORKFLOW_ID EXECUTION_ID (or try --simulator).",
        )

    def console_url(self, workflow_id: str, execution_id: str) -> str | None:
        return console_link(
            self.settings.aom_console_url,
            region=self.settings.aom_region or "",
            project_id=self.client.project_id,
            workflow_id=workflow_id,
            execution_id=execution_id,
        )

    async def slack_message(self, execution: ExecutionDetail) -> SlackMessage:
        return execution_message(
            execution,
            now=datetime.now(UTC),
            workflow_name=await self.names.name(execution.workflow_id),
            console_url=self.console_url(execution.workflow_id, execution.execution_id),
            scrubber=self.scrubber,
        )

    async def print_execution(self, execution: ExecutionDetail) -> None:
        from aom_bot.render.terminal import render_execution

        self.console.print(
            render_execution(
                execution,
                now=datetime.now(UTC),
                workflow_name=await self.names.name(execution.workflow_id),
                scrubber=self.scrubber,
            )
        )

    def print_executions(self, executions: Sequence[ExecutionDetail]) -> None:
        from aom_bot.render.terminal import render_executions_table

        self.console.print(render_executions_table(executions, now=datetime.now(UTC)))

    def print_workflows(self, workflows: Sequence[Workflow]) -> None:
        from aom_bot.render.terminal import render_workflows_table

        self.names.remember(workflows)
        self.console.print(render_workflows_table(workflows))


@contextlib.asynccontextmanager
async def aom_session(settings: Settings, *, simulator: bool = False) -> AsyncIterator[AomSession]:
    """An AOM client for the CLI: real AOM, or the simulator in this process."""
    validate_console_template(settings.aom_console_url or "")
    transport: httpx.AsyncBaseTransport | None = None
    default_ids: tuple[tuple[str, str], tuple[str, str]] | None = None
    if simulator:
        from aom_bot.simulator import build_demo, create_simulator_app

        demo = build_demo(seed=1)
        transport = httpx.ASGITransport(
            app=create_simulator_app(demo.world, credentials=demo.credentials)
        )
        settings = simulator_settings(
            settings,
            project_id=demo.project_id,
            ak=demo.credentials.ak or "",
            sk=demo.credentials.sk or "",
        )
        workflow = demo.world.workflow_id_by_name(_scenario_workflow_name(DEFAULT_DEMO_SCENARIO))
        runs = demo.world.execution_ids(workflow)  # newest first: current run, then history
        default_ids = ((workflow, runs[0]), (workflow, runs[min(1, len(runs) - 1)]))
    client = build_aom_client(settings, transport=transport)
    try:
        yield AomSession(
            settings=settings,
            client=client,
            names=WorkflowNames(client),
            scrubber=build_scrubber(settings),
            default_ids=default_ids,
        )
    finally:
        await client.aclose()


def _scenario_workflow_name(scenario: str) -> str:
    from aom_bot.simulator import SCENARIOS

    return SCENARIOS[scenario].workflow_name


async def follow_in_terminal(
    session: AomSession, workflow_id: str, execution_id: str, *, settings: Settings
) -> ExecutionDetail:
    """Refresh the terminal view in place until the execution ends (the follow engine's pacing)."""
    from aom_bot.follow.policy import error_interval, jittered, poll_interval, unreachable_notice
    from aom_bot.render.terminal import render_execution

    rng = random.Random()  # noqa: S311 - jitter, not security
    loop = asyncio.get_running_loop()
    started = loop.time()
    name = await session.names.name(workflow_id)
    execution = await session.client.get_execution(workflow_id, execution_id)
    failures = 0
    unreachable_since: datetime | None = None
    with Live(console=session.console, auto_refresh=False, transient=False) as live:
        while True:
            now = datetime.now(UTC)
            view = render_execution(
                execution, now=now, workflow_name=name, scrubber=session.scrubber
            )
            if unreachable_since is not None:
                from rich.console import Group
                from rich.text import Text

                view = Group(view, Text(unreachable_notice(unreachable_since), style="yellow"))
            live.update(view, refresh=True)
            if execution.is_terminal:
                return execution
            if failures:
                delay = error_interval(
                    failures,
                    minimum=settings.aom_bot_poll_min_seconds,
                    maximum=settings.aom_bot_poll_max_seconds,
                )
            else:
                delay = poll_interval(
                    loop.time() - started,
                    minimum=settings.aom_bot_poll_min_seconds,
                    maximum=settings.aom_bot_poll_max_seconds,
                )
            await asyncio.sleep(jittered(delay, rng))
            try:
                execution = await session.client.get_execution(workflow_id, execution_id)
                failures, unreachable_since = 0, None
            except AomError as exc:
                if not exc.retryable:
                    raise
                failures += 1
                unreachable_since = unreachable_since or datetime.now(UTC)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def serve_simulator(
    *, host: str, port: int, scenario: str | None, speed: float, seed: int
) -> None:
    """Serve the simulator until interrupted; print the env lines that point the bot at it."""
    import uvicorn

    from aom_bot.simulator import build_demo, create_simulator_app, environment_lines

    demo = build_demo(scenario, speed, seed)
    port = port or _free_port(host)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
    base_url = f"http://{shown_host}:{port}"
    app = create_simulator_app(demo.world, credentials=demo.credentials)
    print("# AOM simulator: point aom-bot at it with these lines (e.g. in .env):", flush=True)
    for line in environment_lines(demo, base_url):
        print(line, flush=True)
    summary = ", ".join(
        f"{wf['name']} ({wf['id']})" for wf in demo.world.workflow_page(size=100)["elements"]
    )
    print(f"# workflows: {summary}", file=sys.stderr, flush=True)
    print("# then: aom-bot workflows; aom-bot executions WORKFLOW_ID; aom-bot show WORKFLOW_ID EXECUTION_ID",
          file=sys.stderr, flush=True)  # fmt: skip
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    await uvicorn.Server(config).serve()


async def migrate_store(settings: Settings) -> int:
    """Apply pending schema migrations; return the schema version."""
    from aom_bot.store import open_store

    store = await open_store(settings.database_url())
    try:
        await store.migrate()
        return await store.schema_version()
    finally:
        await store.aclose()
