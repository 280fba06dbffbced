"""``aom-bot show``, ``executions`` and ``workflows``: one execution, recent runs, the workflows.

Registered on the main app by :mod:`aom_bot.cli`.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from aom_bot.cli_common import (
    ExitCode,
    ProfileOption,
    SimulatorOption,
    aom_timed_out,
    command_deadline,
    execution_exit_code,
    fail,
    load_cli_settings,
    print_json,
    run_work,
)

__all__ = ["executions", "show", "workflows"]


_JsonView = Annotated[bool, typer.Option("--json", help="Print the parsed execution as JSON.")]
_BlocksView = Annotated[
    bool, typer.Option("--blocks", help="Print the Slack message JSON (for Block Kit Builder).")
]
_FollowView = Annotated[
    bool,
    typer.Option(
        "--follow",
        "-f",
        help="Refresh in place until the execution ends; Ctrl-C stops (exit code 130).",
    ),
]
_AllHosts = Annotated[
    bool, typer.Option("--all", help="List every failed host (not just the first of each group).")
]


def show(
    workflow_id: Annotated[
        str | None, typer.Argument(help="Workflow ID (or a pasted console link to an execution).")
    ] = None,
    execution_id: Annotated[str | None, typer.Argument(help="Execution ID.")] = None,
    as_json: _JsonView = False,
    as_blocks: _BlocksView = False,
    follow: _FollowView = False,
    all_hosts: _AllHosts = False,
    profile: ProfileOption = None,
    simulator: SimulatorOption = False,
) -> None:
    """Show an execution: status, times, counts per bucket and the failed hosts.

    With --simulator and no IDs, shows an execution of the simulator's few-failures scenario.
    --all lists every failed host. --follow refreshes until the end; Ctrl-C stops it with
    exit code 130.
    """
    _check_show_options(as_json=as_json, as_blocks=as_blocks, follow=follow, all_hosts=all_hosts)

    async def work() -> ExitCode:
        from aom_bot import console
        from aom_bot.clock import SystemClock

        settings = load_cli_settings(quiet=True)
        # --follow is a live view with no end set in advance; the rest has one deadline
        deadline = (
            contextlib.nullcontext()
            if follow
            else command_deadline(settings, aom_timed_out(settings, simulator))
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
                    print_json(execution.model_dump(mode="json"))
                elif as_blocks:
                    message = await session.slack_message(execution)
                    print_json(message.to_dict())
                else:
                    await session.print_execution(execution, all_hosts=all_hosts)
            return execution_exit_code(execution)

    raise typer.Exit(int(run_work(work)))


def _check_show_options(*, as_json: bool, as_blocks: bool, follow: bool, all_hosts: bool) -> None:
    """The combinations of ``show``'s options that make no sense: exit 2 saying why."""
    if as_json and as_blocks:
        fail(ExitCode.USAGE, "--json and --blocks cannot be used together.")
    if follow and (as_json or as_blocks):
        fail(
            ExitCode.USAGE,
            "--follow shows a live view; it cannot be combined with --json/--blocks.",
        )
    if all_hosts and (as_json or as_blocks):
        fail(
            ExitCode.USAGE,
            "--all lists every failed host in the terminal view; --json already has them all.",
        )


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

        settings = load_cli_settings(quiet=True)
        async with (
            command_deadline(settings, aom_timed_out(settings, simulator)),
            console.aom_session(settings, simulator=simulator, profile=profile) as session,
        ):
            wf = await session.resolve_workflow(workflow_id)
            items = (await session.client.list_executions(wf))[:limit]
            if as_json:
                print_json([item.model_dump(mode="json") for item in items])
            else:
                session.print_executions(items)

    run_work(work)


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

        settings = load_cli_settings(quiet=True)
        async with (
            command_deadline(settings, aom_timed_out(settings, simulator)),
            console.aom_session(settings, simulator=simulator, profile=profile) as session,
        ):
            items = await session.client.list_workflows(filter_text, limit=limit)
            if as_json:
                print_json([item.model_dump(mode="json") for item in items])
            else:
                session.print_workflows(items)

    run_work(work)
