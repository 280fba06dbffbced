"""Terminal rendering for `aom-bot show`: readable at 80 columns, no markup or escape injection."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console, RenderableType

from aom_bot.aom.models import Workflow
from aom_bot.render.terminal import (
    render_execution,
    render_execution_fitted,
    render_executions_table,
    render_workflows_table,
)
from tests.render.factories import execution, host, load_fixture, mass_failure, node
from tests.render.strategies import SECRETS

NOW = datetime(2024, 3, 15, 8, 12, tzinfo=UTC)


def _plain(renderable: RenderableType, width: int = 80) -> str:
    console = Console(
        width=width,
        record=True,
        color_system=None,
        force_terminal=False,
        file=io.StringIO(),
    )
    console.print(renderable)
    return console.export_text()


def test_execution_at_80_columns_shows_the_essentials() -> None:
    """Status, times, duration, counts, failed hosts with IP/AZ/exit code/error, log lines."""
    out = _plain(
        render_execution(load_fixture("f3_failed.json"), now=NOW, workflow_name="deploy-nginx")
    )
    assert all(len(line) <= 80 for line in out.splitlines())
    for expected in (
        "❌ fail · deploy-nginx",
        "Started",
        "08:10:00 UTC",
        "Duration",
        "1m 35s",
        "6: ✅ 1 succeeded · ❌ 5 failed",
        "web-02",
        "192.168.0.12",
        "cn-north-4b",
        "exit code 28",
        "agent is offline",
        "[patch] yum failed",
        "Not a directory",
    ):
        assert expected in out, expected


def test_terminal_output_cannot_be_hijacked() -> None:
    """Rich markup and ANSI escapes in AOM text are shown inert; secrets are scrubbed."""
    evil = "[bold red]fake[/] \x1b[2J\x1b]0;title\x07 " + SECRETS[0][0]
    detail = execution(node(fail=[host(1, name=evil, log=evil, exit_code="1")]))
    console = Console(
        width=80,
        record=True,
        force_terminal=True,
        color_system="truecolor",
        file=io.StringIO(),
    )
    console.print(render_execution(detail, now=NOW))
    styled = console.export_text(styles=True, clear=False)
    plain = console.export_text()
    assert "\x1b[2J" not in styled
    assert "\x1b]0;" not in styled
    assert "[bold red]fake[/]" in plain  # shown literally, not interpreted as markup
    assert SECRETS[0][1] not in styled


def test_tables_list_executions_newest_first_and_workflows() -> None:
    """The list views used by `aom-bot list` fit 80 columns."""
    old = execution(node(), execution_id="e-old", begin_time=1710000000000)
    new = execution(node(), execution_id="e-new", begin_time=1710490200000)
    out = _plain(render_executions_table([old, new], now=NOW))
    assert out.index("e-new") < out.index("e-old")
    workflows = [
        Workflow.model_validate(
            {"id": "wf-1", "name": "deploy-nginx", "type": "manual", "status": "success"}
        )
    ]
    out = _plain(render_workflows_table(workflows))
    assert "deploy-nginx" in out
    assert "wf-1" in out
    assert all(len(line) <= 80 for line in out.splitlines())


@pytest.mark.parametrize("width", [80, 100])
def test_ids_in_the_tables_never_wrap(width: int) -> None:
    """The IDs a user copies into the next command stay on one line at 80 and 100 columns,
    even beside long names and creators: the other columns give way."""
    runs = [
        execution(
            node(fail=[host(1, error_msg="boom")]),
            execution_id=f"{i:08d}-0d64-4abc-8d86-b1deba93379c",
            created_by="a-rather-long-operator-name@example.com",
            status=status,
        )
        for i, status in enumerate(["waitApproval", "approvalFailed", "fail"])
    ]
    table = _plain(render_executions_table(runs, now=NOW), width)
    for run in runs:
        assert any(run.execution_id in line for line in table.splitlines()), table
    workflows = [
        Workflow.model_validate(
            {
                "id": f"{i:02d}2ed4dfd23f38825002dde859f4a31",
                "name": "an-unusually-long-workflow-name-for-nightly-maintenance",
                "type": "manual",
                "status": "waitApproval",
                "last_execution_start_time": 1710000000000,
            }
        )
        for i in range(3)
    ]
    listing = _plain(render_workflows_table(workflows, now=NOW), width)
    for workflow in workflows:
        assert any(workflow.id in line for line in listing.splitlines()), listing
    assert all(len(line) <= width for line in (table + listing).splitlines())


def test_show_all_lists_every_failed_host() -> None:
    """By default a group lists its first hosts and points at --all; with --all, every host."""
    detail = mass_failure(60, 30, groups=1)
    short = _plain(render_execution(detail, now=NOW))
    assert "+20 more hosts (aom-bot show --all lists all)" in short
    assert "the full report" not in short
    full = _plain(render_execution(detail, now=NOW, all_hosts=True))
    for i in range(30):
        assert f"web-{i:04d}" in full
    assert "more host" not in full


def test_follow_view_fits_80_by_24_with_as_many_groups_as_fit() -> None:
    """Cut to a screen: the facts, whole compact groups while they fit, one line per further
    group while lines remain, then one line counting the groups (and hosts) left out."""
    detail = mass_failure(200, 40, groups=6)
    running = detail.model_copy(update={"status": detail.status.EXECUTING, "end_time": None})
    console = Console(width=80, height=24, file=io.StringIO(), color_system=None)
    assert len(_plain(render_execution(running, now=NOW)).splitlines()) > 24
    view = _plain(render_execution_fitted(running, now=NOW, console=console, height=22))
    lines = view.rstrip("\n").splitlines()
    assert len(lines) <= 22, view
    panels = sum(1 for line in lines if line.startswith("╭─ ❌"))
    one_liners = sum(1 for line in lines if line.startswith("❌ "))
    assert panels >= 1
    more = re.search(r"\+(\d+) more error groups \((\d+) hosts\) · aom-bot show --all", view)
    assert more is not None, view
    assert panels + one_liners + int(more.group(1)) == 6
    assert len(lines) >= 21  # the screen is used, not left half empty
    shown = panels + one_liners
    # and it really is "as many as fit": a screen a panel taller shows one more group
    taller = _plain(render_execution_fitted(running, now=NOW, console=console, height=40))
    assert sum(1 for line in taller.splitlines() if line.startswith(("╭─ ❌", "❌ "))) > shown
