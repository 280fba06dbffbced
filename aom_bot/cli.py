"""The ``aom-bot`` command line: thin commands that parse arguments and hand off to ``runtime``.

Exit codes (documented in ``--help`` and the README):

* 0 — the execution succeeded, or is running / waiting without failed hosts
* 1 — the execution failed, was cancelled, or has failed hosts
* 2 — usage or configuration error (including a database that cannot be opened)
* 3 — AOM or network error (Slack unreachable included)
* 4 — internal error (a bug: details go to the log on stderr)
* 130 — interrupted (Ctrl-C, e.g. stopping ``show --follow``)

Machine-readable output (``--json``, ``--blocks``) is the only thing written to stdout.
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from aom_bot.cli_audit import audit
from aom_bot.cli_common import ExitCode, SimulatorOption, execution_exit_code
from aom_bot.cli_common import command_deadline as _deadline
from aom_bot.cli_common import load_cli_settings as _settings
from aom_bot.cli_common import run_work as _run
from aom_bot.cli_common import stderr as _stderr
from aom_bot.cli_profiles import config_app, profiles
from aom_bot.cli_views import executions, show, workflows
from aom_bot.errors import AomBotError, SlackDeliveryError, StoreError

if TYPE_CHECKING:
    pass

__all__ = ["ExitCode", "app", "execution_exit_code", "main"]

_log = logging.getLogger("aom_bot.cli")


class RunMode(StrEnum):
    socket = "socket"
    http = "http"


_EXIT_HELP = (
    "Exit codes: 0 succeeded (or running without failures), 1 failed / cancelled / has failed "
    "hosts, 2 usage or configuration error, 3 AOM or network error, 4 internal error, "
    "130 interrupted (Ctrl-C, e.g. stopping show --follow)."
)

app = typer.Typer(
    name="aom-bot",
    help="Huawei Cloud AOM automation executions in Slack and in the terminal.\n\n" + _EXIT_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        from aom_bot import __version__

        sys.stdout.write(f"aom-bot {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Huawei Cloud AOM automation executions in Slack and in the terminal."""


# The commands people use most, first in --help; the others follow in the order written below.
app.command("show")(show)
app.command("executions")(executions)
app.command("workflows")(workflows)


@app.command()
def simulate(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")
    ] = 8642,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Only this scenario (default: all of them).")
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=0.01, max=10000.0, help="Simulated seconds per second.")
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same executions.")] = 1,
) -> None:
    """Run the AOM simulator and print the environment lines that point the bot at it."""

    async def work() -> None:
        from aom_bot import runtime

        _settings()
        await runtime.serve_simulator(
            host=host, port=port, scenario=scenario, speed=speed, seed=seed
        )

    _run(work)


@app.command()
def run(
    mode: Annotated[
        RunMode | None,
        typer.Option(
            "--mode",
            help="socket (needs SLACK_APP_TOKEN) or http (Slack calls POST /slack/events). "
            "Default: socket when SLACK_APP_TOKEN is set, else http.",
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP mode port.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="HTTP mode address.")] = "0.0.0.0",  # noqa: S104
    simulator: SimulatorOption = False,
    health_port: Annotated[
        int,
        typer.Option(
            "--health-port",
            min=0,
            max=65535,
            help="Socket Mode: serve GET /healthz and /metrics on this port (on --host); 0 = off.",
        ),
    ] = 8080,
) -> None:
    """Run the Slack bot (Socket Mode or HTTP mode)."""

    async def work() -> None:
        from aom_bot import bot

        settings = _settings()
        chosen = mode.value if mode else ("socket" if settings.slack_app_token else "http")
        await bot.run_bot(
            settings,
            mode=chosen,
            host=host,
            port=port,
            simulator=simulator,
            health_port=health_port,
        )

    _run(work)


@app.command()
def check(simulator: SimulatorOption = False) -> None:
    """Validate the configuration, call Slack's auth.test and one AOM request; report each."""

    async def work() -> ExitCode:
        from aom_bot import bot_checks

        settings = _settings()

        def timed_out(within: str) -> AomBotError:
            return SlackDeliveryError(f"The checks did not finish within {within}.")

        async with _deadline(settings, timed_out):
            return await bot_checks.run_checks(settings, simulator=simulator, console=_stderr)

    raise typer.Exit(int(_run(work)))


@app.command()
def migrate() -> None:
    """Create or upgrade the store's schema (the bot also does this when it starts)."""

    async def work() -> None:
        from aom_bot import runtime

        settings = _settings()

        def timed_out(within: str) -> AomBotError:
            return StoreError(f"The store did not answer within {within}.")

        async with _deadline(settings, timed_out):
            version = await runtime.migrate_store(settings)
        _stderr.print(f"store is at schema version {version}")

    _run(work)


app.command("profiles")(profiles)
app.add_typer(config_app, name="config")
app.command("audit")(audit)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except Exception:  # pragma: no cover - last line of defence: never a stack trace
        _log.exception("internal error")
        _stderr.print("error: internal error; see the log for details.")
        sys.exit(int(ExitCode.INTERNAL))
