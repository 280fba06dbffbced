"""``aom-bot run`` and ``aom-bot check``: the Slack bot wired from the settings."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from aom_bot.aom.client import RetryPolicy
from aom_bot.aom.reachability import Reachability
from aom_bot.composition import (
    AomProfile,
    Bot,
    BotInputs,
    BotOptions,
    aom_unreachable,
    build_bot,
    supervise,
)
from aom_bot.config import Settings
from aom_bot.errors import ConfigError, SlackDeliveryError
from aom_bot.render.links import validate_console_template
from aom_bot.runtime import (
    build_limiter,
    build_profile_client,
    build_scrubber,
    database_url,
    in_process_simulator,
    rotate_credentials,
)

if TYPE_CHECKING:
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk.web.async_client import AsyncWebClient

    from aom_bot.profiles import BotConfig, LiveConfig


__all__ = ["aom_unreachable", "replica_owner", "run_bot"]


#: the store of ``run --simulator``: in memory, gone with the process like the simulator's world
SIMULATOR_STORE = "sqlite:///:memory:"
#: a follow poll must not sit in retries for long: the card should say "unreachable" quickly
FOLLOW_RETRY = RetryPolicy(attempts=2, timeout=10.0, wait_initial=0.5, wait_max=2.0)


def _check_slack(settings: Settings, mode: str) -> tuple[str, str, str]:
    from aom_bot.slack.check import NO_MODE_HINT

    if all(
        s is None
        for s in (settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret)
    ):
        raise ConfigError("No Slack settings are configured.", hint=NO_MODE_HINT)
    problems = []
    if settings.slack_bot_token is None:
        problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…).")
    elif not _reveal(settings.slack_bot_token).startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN does not look like a bot token (it starts with xoxb-).")
    if mode == "socket" and settings.slack_app_token is None:
        problems.append(
            "SLACK_APP_TOKEN is not set (Socket Mode needs the app-level token, xapp-…)."
        )
    elif mode == "socket" and not _reveal(settings.slack_app_token).startswith("xapp-"):
        problems.append(
            "SLACK_APP_TOKEN does not look like an app-level token (it starts with xapp-)."
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


def replica_owner(settings: Settings | None = None) -> str:
    """This replica's name in leases and claims: ``AOM_BOT_REPLICA_ID`` when set (a restart
    then takes its own leases back at once), else unique to this process — host name, pid and a
    random part, so two replicas on one host (or two pods sharing a host name) never share one.
    """
    if settings is not None and settings.aom_bot_replica_id:
        return settings.aom_bot_replica_id
    return _process_identity()


@functools.cache
def _process_identity() -> str:
    """Computed once: the engine, discovery and claims of one process carry the same name."""
    import os
    import secrets

    host = os.environ.get("HOSTNAME") or socket.gethostname() or "aom-bot"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


def bot_config(settings: Settings, *, simulator: bool) -> tuple[Settings, LiveConfig, Any]:
    """(settings, the configuration in force, the simulator's transport or None).

    With ``--simulator`` the one profile is the in-process simulator (a configuration file
    would point at real AOM projects). A broken file is a ConfigError: the bot does not start.
    """
    from aom_bot.profiles import BotConfig, LiveConfig, Policy, env_profile, load_bot_config

    if simulator:
        settings, transport, _ = in_process_simulator(settings)
        simulated = BotConfig(profiles={"default": env_profile(settings)},
                              default_profile="default", policy=Policy.open())  # fmt: skip
        return settings, LiveConfig(lambda: simulated), transport
    return settings, LiveConfig(lambda: load_bot_config(settings)), None


@contextlib.asynccontextmanager
async def _aom_for_bot(
    settings: Settings, live: LiveConfig, transport: httpx.AsyncBaseTransport | None
) -> AsyncIterator[dict[str, AomProfile]]:
    """Each profile's clients (for commands, for polling), closed at the end. A reload that
    read new secrets hands them to the clients of their profile (``rotate_credentials``)."""
    profiles: dict[str, AomProfile] = {}
    try:
        for name, profile in live.current.profiles.items():
            limiter = build_limiter(settings)  # per profile: its commands and polls share it
            reach = Reachability()  # … and whether it answers (/healthz)
            commands = build_profile_client(profile, settings, transport=transport,
                                            limiter=limiter, reachability=reach)  # fmt: skip
            polling = build_profile_client(profile, settings, transport=transport,
                                           retry=FOLLOW_RETRY, limiter=limiter,
                                           reachability=reach)  # fmt: skip
            profiles[name] = AomProfile(
                commands=commands, polling=polling, region=profile.region,
                console_url_template=profile.console_url,
                two_person=frozenset(p.value for p in profile.two_person),
            )  # fmt: skip
        yield profiles
    finally:
        for opened in profiles.values():
            await opened.commands.aclose()
            await opened.polling.aclose()


def _rotate_on_reload(
    settings: Settings,
    profiles: dict[str, AomProfile],
    transport: httpx.AsyncBaseTransport | None,
    masks: list[Callable[[tuple[str, ...]], None]],
) -> Callable[[BotConfig, BotConfig], None]:
    """After a reload: new secrets reach their profile's clients, and the log and everything
    sent to Slack (``masks``) mask them."""
    from aom_bot.logs import add_logged_secrets
    from aom_bot.profiles import changed_credentials

    def rotate(old: BotConfig, new: BotConfig) -> None:
        add_logged_secrets(new.secret_values())
        for mask in masks:
            mask(new.secret_values())
        for name in changed_credentials(old, new):
            opened = profiles.get(name)
            if opened is None:
                continue
            for client in (opened.commands, opened.polling):
                rotate_credentials(client, new.profiles[name], settings, transport=transport)
            _logger().info("config.credentials_rotated profile=%s", name)

    return rotate


async def run_bot(
    settings: Settings,
    *,
    mode: str,
    host: str,
    port: int,
    simulator: bool = False,
    health_port: int = 8080,
) -> None:
    """Run the Slack bot until SIGINT/SIGTERM: listeners, the follow engine, discovery.

    ``/healthz`` and ``/metrics`` are served on ``port`` in HTTP mode, on ``health_port``
    (0 = not at all) in Socket Mode.
    """
    from aom_bot.logs import add_logged_secrets

    bot_token, app_token, signing_secret = _check_slack(settings, mode)
    _forget_slack_environment()
    settings, live, transport = bot_config(settings, simulator=simulator)
    for profile in live.current.profiles.values():
        validate_console_template(profile.console_url or "")
    add_logged_secrets(live.current.secret_values())
    async with contextlib.AsyncExitStack() as stack:
        inputs = await _open_inputs(stack, settings, live, transport, bot_token, signing_secret)
        bot = build_bot(inputs)
        await _serve(stack, bot, mode=mode, host=host, port=port, health_port=health_port,
                     app_token=app_token, reload=live.reload)  # fmt: skip
    _logger().info("bot.stopped")


async def _open_inputs(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    live: LiveConfig,
    transport: httpx.AsyncBaseTransport | None,
    bot_token: str,
    signing_secret: str,
) -> BotInputs:
    """Settings → resources: AOM clients, the store (monitored), the Slack clients."""
    from aom_bot.clock import SystemClock
    from aom_bot.slack.metrics import Metrics
    from aom_bot.slack.webclient import build_web_client
    from aom_bot.store import open_store
    from aom_bot.store.monitor import StoreMonitor

    clock = SystemClock()
    metrics = Metrics()
    simulator = transport is not None
    profiles = await stack.enter_async_context(_aom_for_bot(settings, live, transport))
    masks: list[Callable[[tuple[str, ...]], None]] = []
    live.set_reload_hook(_rotate_on_reload(settings, profiles, transport, masks))
    # The simulator's executions exist only in this process: its follows and subscriptions
    # go to a throwaway store, never the real one that the bot later resumes against AOM.
    opened = await open_store(SIMULATOR_STORE if simulator else database_url(settings))
    stack.push_async_callback(opened.aclose)
    await opened.migrate()
    monitor = StoreMonitor(opened, clock=clock)  # every part uses its store: /healthz sees
    # Bolt's own client retries 429s (slack_sdk's handler); the notifier paces and handles
    # 429s itself on the bot's clock, so its client must not also sleep on them.
    secrets = (*settings.secret_values(), *live.current.secret_values())
    clients = [
        build_web_client(bot_token, base_url=settings.slack_api_url, metrics=metrics,
                         secrets=secrets, rate_limit_retries=retries)
        for retries in (2, 0)
    ]  # fmt: skip
    for client in clients:
        stack.push_async_callback(client.aclose)
        masks.append(client.add_secrets)
    options = _options(settings, live.current.secret_values(), signing_secret)
    if options.scrubber is not None:
        masks.append(options.scrubber.secrets.add)
    return BotInputs(
        options=options,
        aom=profiles,
        store=monitor.store,
        clock=clock,
        bolt_client=clients[0],
        notifier_client=clients[1],
        metrics=metrics,
        authorize=await _authorize_once(clients[0]),
        health_checks=(monitor.problem,),
        config=live,
    )


def _options(
    settings: Settings, profile_secrets: tuple[str, ...], signing_secret: str
) -> BotOptions:
    from datetime import timedelta

    return BotOptions(
        owner=replica_owner(settings),
        poll_min=settings.aom_bot_poll_min_seconds,
        poll_max=settings.aom_bot_poll_max_seconds,
        max_follow=timedelta(hours=settings.aom_bot_max_follow_hours),
        broadcast_failures=settings.aom_bot_broadcast_failures,
        discovery_interval=settings.aom_bot_discovery_seconds,
        max_follows=(
            settings.aom_bot_max_follows_per_user,
            settings.aom_bot_max_follows_per_workspace,
        ),
        follow_lease_ttl=timedelta(seconds=settings.aom_bot_lease_seconds),
        # discovery renews once a round: a round plus the lease's margin
        discovery_lease_ttl=timedelta(
            seconds=settings.aom_bot_discovery_seconds + settings.aom_bot_lease_seconds
        ),
        scrubber=build_scrubber(settings, extra_secrets=profile_secrets),
        signing_secret=signing_secret,
        action_unknown_after=timedelta(seconds=settings.aom_bot_action_unknown_seconds),
    )


async def _serve(
    stack: contextlib.AsyncExitStack,
    bot: Bot,
    *,
    mode: str,
    host: str,
    port: int,
    health_port: int,
    app_token: str,
    reload: Callable[[], object],
) -> None:
    """Serve Slack (HTTP or Socket Mode) and the bot's tasks until SIGINT/SIGTERM; SIGHUP
    reloads the configuration file (a broken one is refused and the old one kept)."""
    import signal

    from aom_bot.gc_tuning import tune_gc
    from aom_bot.slack.http import build_health_app, build_http_app, start_http

    log = _logger()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    tune_gc()  # start-up is done: freeze what it built, collect less often (gc_tuning)
    more: dict[str, Coroutine[Any, Any, None]] = {}
    if mode == "http":
        http_app = build_http_app(bot.bolt, metrics=bot.metrics, health=bot.health.report)
        server = await stack.enter_async_context(start_http(http_app, host, port))
        log.info("bot.started mode=http url=%s/slack/events", server.url)
    else:
        from aom_bot.slack.connection import SlackConnection
        from aom_bot.slack.socket import run_socket_mode

        connection = SlackConnection()
        more["the Slack connection"] = run_socket_mode(
            bot.bolt, app_token=app_token, connection=connection
        )
        bot.health.add_check(connection.problem)
        if health_port:
            health_app = build_health_app(metrics=bot.metrics, health=bot.health.report)
            server = await stack.enter_async_context(start_http(health_app, host, health_port))
            log.info("bot.health url=%s/healthz", server.url)
        log.info("bot.started mode=socket")
    await supervise(bot, stop, more=more)


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
