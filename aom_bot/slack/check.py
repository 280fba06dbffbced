"""``aom-bot check``: is the configuration complete, and do Slack and AOM accept it?

Each check reports ok, or the problem plus what to do. Nothing here raises: a broken setting,
a refused token or an unreachable service is a failed check, never a stack trace. Secrets are
never part of a result.

::

    for result in await run_checks(settings, make_aom=lambda: build_aom(settings)):
        print(result.line())
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.aom.reader import AomReader
from aom_bot.config import Settings
from aom_bot.errors import AomBotError, AomError
from aom_bot.render.links import validate_console_template
from aom_bot.render.scrub import SecretMask
from aom_bot.slack.webclient import build_web_client

__all__ = ["CheckResult", "Mode", "run_checks"]

Mode = Literal["socket", "http"]

#: what each of the two modes needs, for when neither is configured
NO_MODE_HINT = (
    "Socket Mode (no public URL needed) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (xapp-…, "
    "scope connections:write); HTTP mode (--mode http) needs SLACK_BOT_TOKEN and "
    "SLACK_SIGNING_SECRET, and a public URL for POST /slack/events."
)

_SLACK_HINTS = {
    "invalid_auth": "Check SLACK_BOT_TOKEN: use the Bot User OAuth Token (xoxb-…) of this app.",
    "not_authed": "Set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…).",
    "account_inactive": "The app was uninstalled or its bot deactivated: reinstall the app.",
    "token_revoked": "The token was revoked: reinstall the app and copy the new token.",
    "token_expired": "The token expired (token rotation is on?): turn rotation off, reinstall.",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: what was checked, whether it passed, what was found, and what to do."""

    name: str
    ok: bool
    detail: str
    hint: str = ""
    #: it failed because AOM or Slack did not answer or refused (exit 3), not because of what
    #: is configured here (exit 2)
    remote: bool = False

    def line(self) -> str:
        """One human-readable line (``✓``/``✗``) for the terminal."""
        mark = "✓" if self.ok else "✗"
        text = f"{mark} {self.name}: {self.detail}"
        return f"{text} — {self.hint}" if self.hint else text


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if callable(getter) else ""


def _configuration(settings: Settings, mode: Mode, *, env_aom: bool = True) -> list[CheckResult]:
    results = [_bot_token(settings)]
    results.append(_app_token(settings) if mode == "socket" else _signing_secret(settings))
    if env_aom:
        results.extend(_env_aom(settings))
    return results


def _env_aom(settings: Settings) -> list[CheckResult]:
    """The AOM settings of the environment (the one profile when there is no config file)."""
    results: list[CheckResult] = []
    for name, check in (
        ("AOM credentials", settings.aom_auth),
        ("AOM project", settings.project_id),
        ("AOM endpoint", settings.aom_endpoint_url),
    ):
        try:
            check()
        except AomBotError as exc:
            results.append(CheckResult(name, False, exc.message, exc.hint))
        else:
            results.append(CheckResult(name, True, "configured."))
    try:
        validate_console_template(settings.aom_console_url or "")
    except AomBotError as exc:
        results.append(CheckResult("AOM console links", False, exc.message, exc.hint))
    else:
        detail = "configured." if settings.aom_console_url else "not set (no Console button)."
        results.append(CheckResult("AOM console links", True, detail))
    return results


@dataclass(frozen=True)
class ConfigFileCheck:
    """The configuration file's part of ``aom-bot check``: whether it loaded, and a client
    maker per profile (empty when the file is broken)."""

    result: CheckResult
    profiles: Mapping[str, Callable[[], AomReader]]
    secrets: tuple[str, ...] = ()


def _bot_token(settings: Settings) -> CheckResult:
    token = _secret(settings.slack_bot_token)
    if not token:
        return CheckResult(
            "Slack bot token",
            False,
            "SLACK_BOT_TOKEN is not set.",
            "Copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions.",
        )
    if not token.startswith("xoxb-"):
        return CheckResult(
            "Slack bot token",
            False,
            "SLACK_BOT_TOKEN is not a bot token (it should start with xoxb-).",
            "Use the Bot User OAuth Token, not a user or app-level token.",
        )
    return CheckResult("Slack bot token", True, "set (xoxb-…).")


def _app_token(settings: Settings) -> CheckResult:
    """Socket Mode's app-level token."""
    if not _secret(settings.slack_app_token).startswith("xapp-"):
        return CheckResult(
            "Slack app token",
            False,
            "SLACK_APP_TOKEN is missing or not an app-level token (xapp-…).",
            "Create one under Basic Information > App-Level Tokens with the "
            "connections:write scope.",
        )
    return CheckResult("Slack app token", True, "set (xapp-…): Socket Mode.")


def _signing_secret(settings: Settings) -> CheckResult:
    """HTTP mode's signing secret (or the hint that neither mode is set up)."""
    if not _secret(settings.slack_signing_secret) and not _secret(settings.slack_app_token):
        return CheckResult(
            "Slack signing secret",
            False,
            "Neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP mode) is set.",
            NO_MODE_HINT,
        )
    if not _secret(settings.slack_signing_secret):
        return CheckResult(
            "Slack signing secret",
            False,
            "SLACK_SIGNING_SECRET is not set; HTTP mode cannot verify requests.",
            "Copy the Signing Secret from Basic Information > App Credentials.",
        )
    return CheckResult("Slack signing secret", True, "set: HTTP mode.")


async def _slack(client: AsyncWebClient, base_url: str) -> CheckResult:
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        code = str(exc.response.get("error") or exc.response.status_code)
        hint = _SLACK_HINTS.get(code, "Check SLACK_BOT_TOKEN and SLACK_API_URL.")
        return CheckResult("Slack auth.test", False, f"Slack refused the token ({code}).", hint)
    except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        return CheckResult(
            "Slack auth.test",
            False,
            f"Slack's Web API at {base_url} could not be reached ({type(exc).__name__}).",
            "Check the network (proxy, firewall) and SLACK_API_URL.",
            remote=True,
        )
    team = response.get("team") or response.get("team_id") or "?"
    user = response.get("user") or response.get("user_id") or "?"
    return CheckResult("Slack auth.test", True, f"connected to workspace {team} as @{user}.")


async def _socket_mode(client: AsyncWebClient, app_token: str) -> CheckResult:
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        code = str(exc.response.get("error") or exc.response.status_code)
        return CheckResult(
            "Slack Socket Mode",
            False,
            f"Slack refused to open a Socket Mode connection ({code}).",
            "Enable Socket Mode in the app settings and check SLACK_APP_TOKEN "
            "(scope connections:write).",
        )
    except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        return CheckResult(
            "Slack Socket Mode",
            False,
            f"Slack could not be reached ({type(exc).__name__}).",
            remote=True,
        )
    return CheckResult("Slack Socket Mode", True, "Slack accepts the app token.")


async def _aom(make_aom: Callable[[], AomReader], name: str = "AOM request") -> CheckResult:
    try:
        aom = make_aom()
        workflows = await aom.list_workflows(limit=1)
    except AomError as exc:  # AOM answered no, or not at all
        return CheckResult(name, False, exc.user_message(), remote=True)
    except AomBotError as exc:
        return CheckResult(name, False, exc.message, exc.hint)
    shown = "at least one workflow" if workflows else "no workflows yet"
    return CheckResult(name, True, f"AOM answered the workflow list ({shown}).")


#: how long the store check waits for a database server that does not answer
STORE_TIMEOUT_SECONDS = 15.0
_SQLITE = "sqlite:///"


def _sqlite_creatable(path: Path) -> str | None:
    """None when the SQLite file can be created at first start; else why not."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        return f"{parent} is not writable"
    return None


def _sqlite_not_created(path: Path) -> CheckResult | None:
    """The result for a SQLite file that does not exist yet (creatable or not); None if it does."""
    if path.exists():
        return None
    problem = _sqlite_creatable(path)
    if problem:
        return CheckResult(
            "Store",
            False,
            f"the SQLite store {path} cannot be created: {problem}.",
            "Set AOM_BOT_STATE_DIR or AOM_BOT_DATABASE_URL to a writable place.",
        )
    return CheckResult("Store", True, f"SQLite at {path} (created at first start).")


async def _store(settings: Settings) -> CheckResult:
    """Open the store the bot would use and read its schema version (never creates it)."""
    from aom_bot.store import open_store
    from aom_bot.store._common import redact_dsn

    name = "Store"
    url = settings.database_url()
    if url.startswith(_SQLITE) and url != _SQLITE + ":memory:":
        path = Path(url.removeprefix(_SQLITE))
        not_yet = _sqlite_not_created(path)
        if not_yet is not None:
            return not_yet
        shown = str(path)
    else:
        shown = redact_dsn(url)
    try:
        async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
            store = await open_store(url)
            try:
                version = await store.schema_version()
            finally:
                await store.aclose()
    except TimeoutError:
        return CheckResult(
            name,
            False,
            f"the store at {shown} did not answer within {STORE_TIMEOUT_SECONDS:.0f} s.",
            "Check AOM_BOT_DATABASE_URL and that the server is reachable from here.",
        )
    except AomBotError as exc:  # StoreError, or ConfigError for a URL the store cannot use
        hint = exc.hint or "Check AOM_BOT_DATABASE_URL."
        return CheckResult(name, False, exc.message, hint)
    except ImportError:
        return CheckResult(
            name,
            False,
            "the PostgreSQL driver is not installed.",
            "pip install 'aom-bot[postgres]'",
        )
    state = (
        f"schema version {version}" if version else "empty: `aom-bot migrate` or `run` sets it up"
    )
    return CheckResult(name, True, f"{shown} answers ({state}).")


async def run_checks(
    settings: Settings,
    *,
    mode: Mode | None = None,
    make_aom: Callable[[], AomReader] | None = None,
    slack_client: AsyncWebClient | None = None,
    config_file: ConfigFileCheck | None = None,
) -> list[CheckResult]:
    """Validate the configuration, then call Slack's ``auth.test`` and one AOM request, and
    open the store the bot would use.

    ``mode`` defaults to Socket Mode when ``SLACK_APP_TOKEN`` is set. ``make_aom`` builds the
    AOM client (its own configuration errors become a failed check); without it the AOM
    request is skipped. Online checks run only when their configuration is complete.

    With a configuration file (``config_file``), its profiles replace the environment's AOM
    settings: one line says whether the file is valid, then one AOM request per profile, named
    after it, so the failing one is plain to see.
    """
    app_token = _secret(settings.slack_app_token)
    chosen: Mode = mode or ("socket" if app_token else "http")
    results = _configuration(settings, chosen, env_aom=config_file is None)
    if config_file is not None:
        results.append(config_file.result)
    failed = {r.name for r in results if not r.ok}
    base_url = settings.slack_api_url or "https://slack.com/api"
    token = _secret(settings.slack_bot_token)
    if "Slack bot token" not in failed:
        own = build_web_client(token, base_url=settings.slack_api_url) if not slack_client else None
        client = slack_client or own
        assert client is not None
        try:
            results.append(await _slack(client, base_url))
            if chosen == "socket" and "Slack app token" not in failed:
                results.append(await _socket_mode(client, app_token))
        finally:
            if own is not None:
                await own.aclose()
    if config_file is not None:
        for name, make in config_file.profiles.items():
            results.append(await _aom(make, f"AOM request ({name})"))
    elif make_aom is not None and not failed & {
        "AOM credentials",
        "AOM project",
        "AOM endpoint",
    }:
        results.append(await _aom(make_aom))
    elif make_aom is None:
        results.append(CheckResult("AOM request", True, "skipped (no AOM client given)."))
    results.append(await _store(settings))
    secrets = (*settings.secret_values(), *(config_file.secrets if config_file else ()))
    mask = SecretMask(secrets)  # whatever a service echoed, never a secret
    return [replace(r, detail=mask.text(r.detail), hint=mask.text(r.hint)) for r in results]
