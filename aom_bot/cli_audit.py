"""``aom-bot audit``: the audit log of actions on executions, read from the store.

It only reads (it never migrates). Registered on the main app by :mod:`aom_bot.cli`, whose
helpers it uses.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from aom_bot.errors import AomBotError, StoreError

__all__ = ["audit"]


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
    from aom_bot.cli_common import ExitCode
    from aom_bot.cli_common import command_deadline as _deadline
    from aom_bot.cli_common import fail as _fail
    from aom_bot.cli_common import load_cli_settings as _settings
    from aom_bot.cli_common import print_json as _print_json
    from aom_bot.cli_common import run_work as _run
    from aom_bot.cli_common import stderr as _stderr

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
