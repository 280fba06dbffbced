"""What every ``aom-bot`` command shares: exit codes, options, settings, the one deadline,
errors as one line and an exit code, JSON output. No Typer app here: :mod:`aom_bot.cli` and
the command modules beside it (``cli_views``, ``cli_profiles``, ``cli_audit``) import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import IntEnum
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

__all__ = [
    "ExitCode",
    "ProfileOption",
    "SimulatorOption",
    "aom_timed_out",
    "command_deadline",
    "execution_exit_code",
    "fail",
    "load_cli_settings",
    "print_json",
    "run_work",
    "stderr",
]

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


#: diagnostics and progress: stdout is only for machine-readable output
stderr = Console(stderr=True, highlight=False)


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


def fail(code: ExitCode, message: str) -> NoReturn:
    from rich.markup import escape

    from aom_bot.logs import redact_as_logged

    shown = escape(redact_as_logged(message))
    stderr.print(f"[bold red]error:[/] {shown}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(int(code))


def load_cli_settings(*, quiet: bool = False) -> Settings:
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
async def command_deadline(
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


def aom_timed_out(settings: Settings, simulator: bool) -> Callable[[str], AomBotError]:
    def error(within: str) -> AomBotError:
        try:
            where = "the simulator" if simulator else settings.aom_endpoint_url()
        except ConfigError:
            where = "AOM"
        return AomTransportError(f"AOM ({where}) did not answer within {within}.")

    return error


def run_work(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, turning every failure into a one-line message and an exit code."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        stderr.print("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except (ConfigError, InvalidIdError, StoreError, UnknownProfileError) as exc:
        # StoreError: the configured database cannot be opened or used.
        fail(ExitCode.USAGE, exc.user_message(cli=True))
    except (AomError, SlackDeliveryError) as exc:
        fail(ExitCode.AOM, exc.user_message(cli=True))
    except AomBotError as exc:
        fail(ExitCode.INTERNAL, exc.user_message(cli=True))
    except Exception:
        _log.exception("internal error")
        fail(ExitCode.INTERNAL, "internal error; the log above (stderr) has the details.")


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


def print_json(data: object) -> None:
    from aom_bot.logs import logged_secrets
    from aom_bot.render.scrub import SecretMask

    masked = SecretMask(logged_secrets()).data(data)  # the values only: the data stays intact
    sys.stdout.write(json.dumps(masked, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
