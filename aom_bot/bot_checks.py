"""``aom-bot check``: the configuration, Slack, each AOM profile and the store, one line each."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from rich.console import Console

from aom_bot.aom.client import AomClient
from aom_bot.bot import bot_config
from aom_bot.cli_common import ExitCode
from aom_bot.config import Settings
from aom_bot.errors import ConfigError
from aom_bot.runtime import build_aom_client, build_profile_client
from aom_bot.slack.check import CheckResult

__all__ = ["exit_code", "run_checks"]


async def run_checks(settings: Settings, *, simulator: bool, console: Console) -> ExitCode:
    """``aom-bot check``: print one line per check; the exit code (0 all passed, 2 something
    configured here is wrong, 3 only AOM or Slack failed). With a configuration file, each
    profile's AOM is asked once, under its own name."""
    from aom_bot.profiles import config_path
    from aom_bot.slack.check import run_checks as slack_checks

    async with contextlib.AsyncExitStack() as stack:
        made: list[AomClient] = []
        stack.push_async_callback(_close_all, made)
        file_check = None
        if simulator:
            settings, live, transport = bot_config(settings, simulator=True)
            profile = live.current.profiles["default"]

            def make_aom() -> AomClient:
                made.append(build_profile_client(profile, settings, transport=transport))
                return made[-1]
        else:
            make_aom = functools.partial(_made, made, build_aom_client, settings)
            if config_path(settings) is not None:
                file_check = _config_file_check(settings, made)
        results = await slack_checks(settings, make_aom=make_aom, config_file=file_check)
    for result in results:
        console.print(result.line(), highlight=False, markup=False)
    return exit_code(results)


def exit_code(results: list[CheckResult]) -> ExitCode:
    """0 when every check passed; 2 when something configured here failed (fix that first);
    3 when only AOM or Slack did not answer or refused (as the other commands exit)."""
    failed = [result for result in results if not result.ok]
    if not failed:
        return ExitCode.OK
    return ExitCode.AOM if all(result.remote for result in failed) else ExitCode.USAGE


def _made(made: list[AomClient], build: Callable[..., AomClient], *args: Any) -> AomClient:
    made.append(build(*args))
    return made[-1]


async def _close_all(clients: list[AomClient]) -> None:
    for client in clients:
        await client.aclose()


def _config_file_check(settings: Settings, made: list[AomClient]) -> Any:
    """The configuration file's line of ``aom-bot check``, and one client maker per profile."""
    from aom_bot.profiles import load_bot_config
    from aom_bot.slack.check import ConfigFileCheck

    try:
        config = load_bot_config(settings)
    except ConfigError as exc:
        return ConfigFileCheck(CheckResult("Configuration file", False, exc.message, exc.hint), {})
    detail = (
        f"{config.source}: {len(config.profiles)} profiles, {len(config.channels)} channel "
        f"bindings, {len(config.policy.rules)} rules."
    )
    makers = {
        name: functools.partial(_made, made, build_profile_client, profile, settings)
        for name, profile in config.profiles.items()
    }
    return ConfigFileCheck(
        CheckResult("Configuration file", True, detail), makers, config.secret_values()
    )
