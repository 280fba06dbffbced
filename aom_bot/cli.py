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

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from aom_bot.errors import (
    AomBotError,
    AomError,
    AomTransportError,
    ConfigError,
    InvalidIdError,
    SlackDeliveryError,
    StoreError,
    UnknownProfileError,
)

if TYPE_CHECKING:
    from aom_bot.aom.models import ExecutionDetail
    from aom_bot.config import Settings

__all__ = ["ExitCode", "app", "main"]

T = TypeVar("T")
_log = logging.getLogger("aom_bot.cli")


class ExitCode(IntEnum):
    """Process exit codes; part of the product, documented in the README."""

    OK = 0
    FAILED = 1
    USAGE = 2
    AOM = 3
    INTERNAL = 4
    INTERRUPTED = 130


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

_stderr = Console(stderr=True, highlight=False)


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


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="The AOM profile of the configuration file (AOM_BOT_CONFIG) to use; default: its "
        "default_profile.",
    ),
]
SimulatorOption = Annotated[
    bool,
    typer.Option(
        "--simulator",
        help="Use the built-in AOM simulator (in this process) instead of real AOM: no "
        "cloud account needed.",
    ),
]


def _fail(code: ExitCode, message: str) -> NoReturn:
    from rich.markup import escape

    from aom_bot.logs import redact_as_logged

    shown = escape(redact_as_logged(message))
    _stderr.print(f"[bold red]error:[/] {shown}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(int(code))


def _settings(*, quiet: bool = False) -> Settings:
    """The settings, with logging configured. ``quiet`` (the view commands, whose errors are
    printed anyway): warnings only, unless AOM_BOT_LOG_LEVEL is set explicitly."""
    from aom_bot.config import load_settings
    from aom_bot.logs import configure_logging

    settings = load_settings()
    level = settings.aom_bot_log_level
    if quiet and "aom_bot_log_level" not in settings.model_fields_set:
        level = "WARNING"
    configure_logging(
        level=level, fmt=settings.aom_bot_log_format, secrets=settings.secret_values()
    )
    return settings


@contextlib.asynccontextmanager
async def _deadline(
    settings: Settings, timed_out: Callable[[str], AomBotError]
) -> AsyncIterator[None]:
    """The one overall deadline of a command (AOM_BOT_COMMAND_TIMEOUT_SECONDS), retries included:
    a silent server ends the command with ``timed_out``'s message instead of hanging it."""
    seconds = settings.aom_bot_command_timeout_seconds
    limit = asyncio.timeout(seconds)
    try:
        async with limit:
            yield
    except TimeoutError:
        if not limit.expired():
            raise
        raise timed_out(f"{seconds:g} s (AOM_BOT_COMMAND_TIMEOUT_SECONDS)") from None


def _aom_timed_out(settings: Settings, simulator: bool) -> Callable[[str], AomBotError]:
    def error(within: str) -> AomBotError:
        try:
            where = "the simulator" if simulator else settings.aom_endpoint_url()
        except ConfigError:
            where = "AOM"
        return AomTransportError(f"AOM ({where}) did not answer within {within}.")

    return error


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, turning every failure into a one-line message and an exit code."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _stderr.print("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except (ConfigError, InvalidIdError, StoreError, UnknownProfileError) as exc:
        # StoreError: the configured database cannot be opened or used.
        _fail(ExitCode.USAGE, exc.user_message(cli=True))
    except (AomError, SlackDeliveryError) as exc:
        _fail(ExitCode.AOM, exc.user_message(cli=True))
    except AomBotError as exc:
        _fail(ExitCode.INTERNAL, exc.user_message(cli=True))
    except Exception:
        _log.exception("internal error")
        _fail(ExitCode.INTERNAL, "internal error; the log above (stderr) has the details.")


def execution_exit_code(execution: ExecutionDetail) -> ExitCode:
    """0 when nothing went wrong (yet), 1 when the run failed, was cancelled or has failed hosts."""
    from aom_bot.aom.models import Phase
    from aom_bot.render.analysis import bucket_counts

    if bucket_counts(execution).failed:
        return ExitCode.FAILED
    phase = execution.status.phase
    if phase in (Phase.FAILED, Phase.CANCELLED):
        return ExitCode.FAILED
    return ExitCode.OK


def _print_json(data: object) -> None:
    from aom_bot.logs import logged_secrets
    from aom_bot.render.scrub import SecretMask

    masked = SecretMask(logged_secrets()).data(data)  # the values only: the data stays intact
    sys.stdout.write(json.dumps(masked, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


@app.command()
def show(
    workflow_id: Annotated[
        str | None, typer.Argument(help="Workflow ID (or a pasted console link to an execution).")
    ] = None,
    execution_id: Annotated[str | None, typer.Argument(help="Execution ID.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the parsed execution as JSON.")
    ] = False,
    as_blocks: Annotated[
        bool,
        typer.Option("--blocks", help="Print the Slack message JSON (for Block Kit Builder)."),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Refresh in place until the execution ends; Ctrl-C stops (exit code 130).",
        ),
    ] = False,
    all_hosts: Annotated[
        bool,
        typer.Option("--all", help="List every failed host (not just the first of each group)."),
    ] = False,
    profile: ProfileOption = None,
    simulator: SimulatorOption = False,
) -> None:
    """Show an execution: status, times, counts per bucket and the failed hosts.

    With --simulator and no IDs, shows an execution of the simulator's few-failures scenario.
    --all lists every failed host. --follow refreshes until the end; Ctrl-C stops it with
    exit code 130.
    """
    if as_json and as_blocks:
        _fail(ExitCode.USAGE, "--json and --blocks cannot be used together.")
    if follow and (as_json or as_blocks):
        _fail(
            ExitCode.USAGE,
            "--follow shows a live view; it cannot be combined with --json/--blocks.",
        )
    if all_hosts and (as_json or as_blocks):
        _fail(
            ExitCode.USAGE,
            "--all lists every failed host in the terminal view; --json already has them all.",
        )

    async def work() -> ExitCode:
        from aom_bot import console
        from aom_bot.clock import SystemClock

        settings = _settings(quiet=True)
        # --follow is a live view with no end set in advance; the rest has one deadline
        deadline = (
            contextlib.nullcontext()
            if follow
            else _deadline(settings, _aom_timed_out(settings, simulator))
        )
        async with (
            deadline,
            console.aom_session(settings, simulator=simulator, profile=profile) as session,
        ):
            wf, ex = await session.resolve_ids(workflow_id, execution_id, live=follow)
            if follow:
                execution = await console.follow_in_terminal(
                    session, wf, ex, settings=settings, clock=SystemClock(), all_hosts=all_hosts
                )
            else:
                execution = await session.client.get_execution(wf, ex)
                if as_json:
                    _print_json(execution.model_dump(mode="json"))
                elif as_blocks:
                    message = await session.slack_message(execution)
                    _print_json(message.to_dict())
                else:
                    await session.print_execution(execution, all_hosts=all_hosts)
            return execution_exit_code(execution)

    raise typer.Exit(int(_run(work)))


@app.command()
def executions(
    workflow_id: Annotated[str | None, typer.Argument(help="Workflow ID.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    profile: ProfileOption = None,
    simulator: SimulatorOption = False,
) -> None:
    """List recent executions of a workflow, newest first."""

    async def work() -> None:
        from aom_bot import console

        settings = _settings(quiet=True)
        async with (
            _deadline(settings, _aom_timed_out(settings, simulator)),
            console.aom_session(settings, simulator=simulator, profile=profile) as session,
        ):
            wf = await session.resolve_workflow(workflow_id)
            items = (await session.client.list_executions(wf))[:limit]
            if as_json:
                _print_json([item.model_dump(mode="json") for item in items])
            else:
                session.print_executions(items)

    _run(work)


@app.command()
def workflows(
    filter_text: Annotated[
        str | None, typer.Argument(help="Only workflows whose name or description contains this.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    profile: ProfileOption = None,
    simulator: SimulatorOption = False,
) -> None:
    """List the project's workflows."""

    async def work() -> None:
        from aom_bot import console

        settings = _settings(quiet=True)
        async with (
            _deadline(settings, _aom_timed_out(settings, simulator)),
            console.aom_session(settings, simulator=simulator, profile=profile) as session,
        ):
            items = await session.client.list_workflows(filter_text, limit=limit)
            if as_json:
                _print_json([item.model_dump(mode="json") for item in items])
            else:
                session.print_workflows(items)

    _run(work)


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

    async def work() -> bool:
        from aom_bot import bot_checks

        settings = _settings()

        def timed_out(within: str) -> AomBotError:
            return SlackDeliveryError(f"The checks did not finish within {within}.")

        async with _deadline(settings, timed_out):
            return await bot_checks.run_checks(settings, simulator=simulator, console=_stderr)

    ok = _run(work)
    raise typer.Exit(0 if ok else int(ExitCode.USAGE))


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


def _add_profile_commands() -> None:
    # Imported here: cli_profiles uses this module's helpers (lazily), and the commands belong
    # to this app.
    from aom_bot.cli_profiles import config_app, profiles

    app.command("profiles")(profiles)
    app.add_typer(config_app, name="config")


_add_profile_commands()


@app.command()
def audit(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only entries this recent: 30m, 24h, 7d, or from an ISO time such as "
            "2025-03-01T14:00Z (UTC unless it names an offset). Default: all.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the audit log of actions on executions (terminate, retry, skip, continue, run,
    and every refusal), newest first."""
    from datetime import UTC, datetime

    from aom_bot.audit_log import audit_record, parse_since

    try:
        start = None if since is None else parse_since(since, now=datetime.now(UTC))
    except ValueError as exc:
        _fail(ExitCode.USAGE, str(exc))

    async def work() -> None:
        from aom_bot import runtime

        settings = _settings(quiet=True)

        def timed_out(within: str) -> AomBotError:
            return StoreError(f"The store did not answer within {within}.")

        async with _deadline(settings, timed_out):
            entries = await runtime.read_audit(settings, since=start)
        if as_json:
            _print_json([audit_record(entry) for entry in entries])
        elif entries:
            from rich.measure import Measurement

            from aom_bot.render.audit_table import render_audit_table

            out = Console(highlight=False)
            table = render_audit_table(entries)
            natural = Measurement.get(out, out.options.update_width(100_000), table).maximum
            out.width = max(out.width, natural)  # one entry, one line, however narrow
            out.print(table)
        else:
            after = "" if start is None else f" since {start:%Y-%m-%d %H:%M:%S} UTC"
            _stderr.print(f"no audit entries{after}", markup=False)

    _run(work)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except Exception:  # pragma: no cover - last line of defence: never a stack trace
        _log.exception("internal error")
        _stderr.print("error: internal error; see the log for details.")
        sys.exit(int(ExitCode.INTERNAL))
