"""The composition root: Settings in, wired clients, store, engine and apps out.

Only this module (and the CLI that calls it) reads :class:`~aom_bot.config.Settings`; everything it
builds takes its collaborators as arguments. Resources are opened and closed with ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
import httpx
from rich.console import Console
from rich.live import Live

from aom_bot.aom.auth import AkSkAuth, TokenAuth
from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
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
from aom_bot.errors import AomError, ConfigError, InvalidIdError, SlackDeliveryError
from aom_bot.render import SlackMessage, execution_message
from aom_bot.render.links import console_link, validate_console_template
from aom_bot.render.scrub import Scrubber

if TYPE_CHECKING:
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk.web.async_client import AsyncWebClient

    from aom_bot.simulator import Demo

__all__ = [
    "AomSession",
    "aom_session",
    "build_aom_client",
    "follow_in_terminal",
    "migrate_store",
    "run_bot",
    "run_checks",
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
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
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
    return AomClient(http, project_id=project_id, retry=retry)


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


def in_process_simulator(settings: Settings) -> tuple[Settings, httpx.AsyncBaseTransport, Demo]:
    """The demo world served in this process: settings pointed at it, and the transport."""
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
    return settings, transport, demo


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
        settings, transport, demo = in_process_simulator(settings)
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


def database_url(settings: Settings) -> str:
    """The store URL; the default SQLite file's directory is created on first use."""
    if not settings.aom_bot_database_url:
        try:
            settings.aom_bot_state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the state directory {settings.aom_bot_state_dir}: {exc.strerror}.",
                hint="Set AOM_BOT_STATE_DIR to a writable directory, or AOM_BOT_DATABASE_URL.",
            ) from None
    return settings.database_url()


async def migrate_store(settings: Settings) -> int:
    """Apply pending schema migrations; return the schema version."""
    from aom_bot.store import open_store

    store = await open_store(database_url(settings))
    try:
        await store.migrate()
        return await store.schema_version()
    finally:
        await store.aclose()


# --- the bot ------------------------------------------------------------------------------

#: a follow poll must not sit in retries for long: the card should say "unreachable" quickly
FOLLOW_RETRY = RetryPolicy(attempts=2, timeout=10.0, wait_initial=0.5, wait_max=2.0)


def _check_slack(settings: Settings, mode: str) -> tuple[str, str, str]:
    problems = []
    if settings.slack_bot_token is None:
        problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…).")
    if mode == "socket" and settings.slack_app_token is None:
        problems.append(
            "SLACK_APP_TOKEN is not set (Socket Mode needs the app-level token, xapp-…)."
        )
    if mode == "http" and settings.slack_signing_secret is None:
        problems.append("SLACK_SIGNING_SECRET is not set (HTTP mode verifies requests with it).")
    if problems:
        raise ConfigError(" ".join(problems), hint="See docs/slack-app.md.")
    return (
        _reveal(settings.slack_bot_token),
        _reveal(settings.slack_app_token),
        _reveal(settings.slack_signing_secret),
    )


def _forget_slack_environment() -> None:
    """Settings own the Slack secrets now; Bolt would otherwise read them from the environment
    (and warn, or switch to OAuth when SLACK_CLIENT_ID/SECRET are set)."""
    import os

    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
    ):
        os.environ.pop(name, None)


def _reveal(secret: object) -> str:
    from pydantic import SecretStr

    return secret.get_secret_value() if isinstance(secret, SecretStr) else ""


def replica_owner() -> str:
    """A stable name for this replica: a restarted process takes its own leases back at once."""
    import os

    return os.environ.get("HOSTNAME") or socket.gethostname() or "aom-bot"


@contextlib.asynccontextmanager
async def _aom_for_bot(
    settings: Settings, simulator: bool
) -> AsyncIterator[tuple[Settings, AomClient, AomClient]]:
    """(settings, client for commands, client for polling) — the simulator in-process if asked."""
    transport: httpx.AsyncBaseTransport | None = None
    if simulator:
        settings, transport, _ = in_process_simulator(settings)
    commands = build_aom_client(settings, transport=transport)
    polling = build_aom_client(settings, transport=transport, retry=FOLLOW_RETRY)
    try:
        yield settings, commands, polling
    finally:
        await commands.aclose()
        await polling.aclose()


async def run_bot(
    settings: Settings, *, mode: str, host: str, port: int, simulator: bool = False
) -> None:
    """Run the Slack bot until SIGINT/SIGTERM: listeners, the follow engine, discovery."""
    import signal
    from datetime import timedelta

    from aom_bot.clock import SystemClock
    from aom_bot.follow.discovery import SubscriptionDiscovery
    from aom_bot.follow.engine import FollowEngine
    from aom_bot.slack.app import create_app
    from aom_bot.slack.deps import MeteredAom, SlackDeps
    from aom_bot.slack.metrics import Metrics
    from aom_bot.slack.notifier import SlackNotifier
    from aom_bot.slack.subscriptions import SlackChannelDirectory, SubscriptionService
    from aom_bot.slack.webclient import build_web_client
    from aom_bot.store import open_store

    bot_token, app_token, signing_secret = _check_slack(settings, mode)
    _forget_slack_environment()
    if not simulator:
        settings.check_aom()
    validate_console_template(settings.aom_console_url or "")
    clock = SystemClock()
    metrics = Metrics()
    scrubber = build_scrubber(settings)
    log = _logger()

    async with contextlib.AsyncExitStack() as stack:
        settings, aom, polling = await stack.enter_async_context(_aom_for_bot(settings, simulator))
        store = await open_store(database_url(settings))
        stack.push_async_callback(store.aclose)
        await store.migrate()
        # Bolt's own client retries 429s (slack_sdk's handler); the notifier paces and handles
        # 429s itself on the bot's clock, so its client must not also sleep on them.
        bolt_client = build_web_client(bot_token, base_url=settings.slack_api_url, metrics=metrics)
        stack.push_async_callback(bolt_client.aclose)
        notifier_client = build_web_client(
            bot_token, base_url=settings.slack_api_url, metrics=metrics, rate_limit_retries=0
        )
        stack.push_async_callback(notifier_client.aclose)
        notifier = SlackNotifier(notifier_client, clock=clock)
        names = WorkflowNames(aom)
        project_id = settings.project_id()

        def console_url(workflow_id: str, execution_id: str) -> str | None:
            return console_link(
                settings.aom_console_url,
                region=settings.aom_region or "",
                project_id=project_id,
                workflow_id=workflow_id,
                execution_id=execution_id,
            )

        engine = FollowEngine(
            source=MeteredAom(polling, metrics),
            store=store,
            notifier=notifier,
            clock=clock,
            owner=replica_owner(),
            poll_min=settings.aom_bot_poll_min_seconds,
            poll_max=settings.aom_bot_poll_max_seconds,
            max_follow=timedelta(hours=settings.aom_bot_max_follow_hours),
            broadcast_failures=settings.aom_bot_broadcast_failures,
            console_url=console_url,
            scrubber=scrubber,
            workflow_names=names.name,
        )
        subscriptions = SubscriptionService(
            aom=MeteredAom(aom, metrics),
            store=store,
            follow=engine,
            clock=clock,
            directory=SlackChannelDirectory(bolt_client),
            scrubber=scrubber,
            workflow_names=names.name,
        )
        discovery = SubscriptionDiscovery(
            source=MeteredAom(polling, metrics),
            store=store,
            notifier=notifier,
            follow=engine,
            clock=clock,
            owner=replica_owner(),
            interval=settings.aom_bot_discovery_seconds,
            console_url=console_url,
            scrubber=scrubber,
        )
        deps = SlackDeps(
            aom=MeteredAom(aom, metrics),
            notifier=notifier,
            follow=engine,
            clock=clock,
            metrics=metrics,
            project_id=project_id,
            region=settings.aom_region or "",
            console_url_template=settings.aom_console_url,
            scrubber=scrubber,
            subscriptions=subscriptions,
            home=subscriptions,
            workflow_names=names.name,
        )
        authorize = await _authorize_once(bolt_client)
        bolt = create_app(
            deps, signing_secret=signing_secret, client=bolt_client, authorize=authorize
        )

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

        async def report_gauges() -> None:
            while True:
                metrics.set_active_follows(engine.stats.active_follows)
                await asyncio.sleep(5)

        tasks = [
            asyncio.create_task(engine.run(), name="follow-engine"),
            asyncio.create_task(discovery.run(), name="discovery"),
            asyncio.create_task(report_gauges(), name="gauges"),
        ]
        if mode == "http":
            from aom_bot.slack.http import build_http_app, start_http

            async def healthy() -> bool:
                return not (tasks[0].done() or tasks[1].done())

            http_app = build_http_app(bolt, metrics=metrics, health=healthy)
            server = await stack.enter_async_context(start_http(http_app, host, port))
            log.info("bot.started mode=http url=%s/slack/events", server.url)
        else:
            from aom_bot.slack.socket import run_socket_mode

            tasks.append(
                asyncio.create_task(run_socket_mode(bolt, app_token=app_token), name="socket")
            )
            log.info("bot.started mode=socket")
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        log.info("bot.stopping")
        await discovery.stop()  # before the engine: discovery hands new runs to it
        await engine.stop()
        for task in [waiter, *tasks]:
            task.cancel()
        await asyncio.gather(waiter, *tasks, return_exceptions=True)
        for task in done:
            if task is not waiter and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    log.info("bot.stopped")


async def _authorize_once(client: AsyncWebClient) -> Callable[..., Awaitable[AuthorizeResult]]:
    """Call ``auth.test`` once at start-up: a refused token stops the bot with a clear message
    (instead of failing every command), and Bolt need not call it again per request."""
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk.errors import SlackApiError

    try:
        identity = await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
        if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
            raise ConfigError(
                f"Slack refused SLACK_BOT_TOKEN ({error}).",
                hint="Copy the Bot User OAuth Token from the app's OAuth & Permissions page.",
            ) from None
        raise SlackDeliveryError(
            f"Slack's auth.test failed ({error or exc.response.status_code}).", error=error
        ) from None
    except (OSError, TimeoutError, aiohttp.ClientError) as exc:
        raise SlackDeliveryError(
            f"Cannot reach Slack's Web API ({type(exc).__name__}).",
            hint="Check the network, or SLACK_API_URL if you set it.",
        ) from None
    token = client.token or ""
    result = AuthorizeResult(
        enterprise_id=identity.get("enterprise_id"),
        team_id=identity.get("team_id"),
        team=identity.get("team"),
        url=identity.get("url"),
        bot_user_id=identity.get("user_id"),
        bot_id=identity.get("bot_id"),
        bot_token=token,
    )

    async def authorize(**_: object) -> AuthorizeResult:
        return result

    return authorize


def _logger() -> logging.Logger:
    return logging.getLogger("aom_bot.runtime")


async def run_checks(settings: Settings, *, simulator: bool, console: Console) -> bool:
    """``aom-bot check``: print one line per check; True when all passed."""
    from aom_bot.slack.check import run_checks as slack_checks

    async with contextlib.AsyncExitStack() as stack:
        if simulator:
            settings, aom, _ = await stack.enter_async_context(_aom_for_bot(settings, True))

            def make_aom() -> AomClient:
                return aom
        else:
            made: list[AomClient] = []

            def make_aom() -> AomClient:
                made.append(build_aom_client(settings))
                return made[-1]

            async def close_made() -> None:
                for client in made:
                    await client.aclose()

            stack.push_async_callback(close_made)
        results = await slack_checks(settings, make_aom=make_aom)
    for result in results:
        console.print(result.line(), highlight=False, markup=False)
    return all(result.ok for result in results)
