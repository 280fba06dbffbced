"""The same content for a terminal (``aom-bot show``): rich renderables, readable at 80 columns.

Untrusted text goes into :class:`rich.text.Text` objects (never into markup strings), after
scrubbing and with control characters removed, so a log can neither inject rich markup nor
send escape sequences to the operator's terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from aom_bot.aom.models import ExecutionDetail, ExecutionStatus, Phase, Workflow
from aom_bot.render.analysis import ErrorGroup, analyse, log_tail
from aom_bot.render.escape import strip_controls
from aom_bot.render.failures import MAX_HOSTS_PER_GROUP, MAX_LOG_LINES
from aom_bot.render.limits import clip
from aom_bot.render.scrub import Scrubber
from aom_bot.render.wording import (
    as_utc,
    bucket_phrases,
    execution_emoji,
    format_duration,
    format_time,
    status_label,
)

__all__ = [
    "render_execution",
    "render_execution_fitted",
    "render_executions_table",
    "render_workflows_table",
]

_PHASE_STYLE = {
    Phase.SUCCEEDED: "bold green",
    Phase.FAILED: "bold red",
    Phase.CANCELLED: "bold yellow",
    Phase.NEEDS_HUMAN: "bold magenta",
    Phase.ACTIVE: "bold cyan",
    Phase.UNKNOWN: "bold",
}
_LOG_LINE_MAX = 200
_ALL_HINT = "aom-bot show --all lists all"
#: hosts and log lines per group when the view must fit the screen (``show --follow``)
_FIT_HOSTS = 3
_FIT_LOG_LINES = 3
#: AOM IDs are at most 128 characters: never clip one a user must copy
_ID_MAX = 128


def _status_text(
    status: ExecutionStatus, raw: str, scrubber: Scrubber, failed_hosts: int = 0
) -> Text:
    label = strip_controls(scrubber.scrub(status_label(status, raw)))
    style = _PHASE_STYLE[status.phase]
    if status is ExecutionStatus.UNKNOWN and failed_hosts:
        style = _PHASE_STYLE[Phase.FAILED]  # failed hosts are failed, whatever the status says
    return Text(f"{execution_emoji(status, failed_hosts)} {label}", style=style)


def _safe(scrubber: Scrubber, text: str, limit: int = 200) -> str:
    return clip(strip_controls(scrubber.scrub(text)).replace("\n", " "), limit)


def _log_tail(log: str, scrubber: Scrubber, max_lines: int = MAX_LOG_LINES) -> Text:
    window, cut = log_tail(log, 16_384)
    text = strip_controls(scrubber.scrub(window))
    lines = [ln.rstrip() for ln in text.split("\n")]
    lines = [
        ln for ln in lines if not (ln.startswith("/usr/local/uniagentd/tmp/") and ln.endswith(">-"))
    ]
    while lines and not lines[-1].strip():
        lines.pop()
    cut = cut or len(lines) > max_lines
    shown = [clip(ln, _LOG_LINE_MAX) for ln in lines[-max_lines:]]
    return Text(("…\n" if cut else "") + "\n".join(shown), style="dim")


def _group_panel(
    group: ErrorGroup,
    scrubber: Scrubber,
    *,
    max_hosts: int | None = MAX_HOSTS_PER_GROUP,
    log_lines: int = MAX_LOG_LINES,
) -> Panel:
    """One error group; ``max_hosts=None`` lists every host (``show --all``)."""
    n = len(group.hosts)
    exit_text = "no exit code" if group.exit_code is None else f"exit code {group.exit_code}"
    body = Text()
    body.append(_safe(scrubber, group.error, 300), style="bold")
    if group.dominant_zone:
        body.append(
            f"\nZonal: {group.dominant_zone_hosts} of {n} hosts in "
            f"{_safe(scrubber, group.dominant_zone, 40)}",
            style="yellow",
        )
    shown = group.hosts if max_hosts is None else group.hosts[:max_hosts]
    for host in shown:
        body.append(f"\n• {_safe(scrubber, host.label, 60)}")
        details = [_safe(scrubber, v, 45) for v in (host.ip, host.availability_zone) if v]
        if details:
            body.append("  " + "  ".join(details), style="dim")
    if n > len(shown):
        more = n - len(shown)
        body.append(f"\n+{more} more host{'s' if more != 1 else ''} ({_ALL_HINT})")
    parts: list[RenderableType] = [body]
    if group.representative.log.strip():
        parts.append(Text(f"Log of {_safe(scrubber, group.representative.label, 60)}:"))
        parts.append(_log_tail(group.representative.log, scrubber, log_lines))
    title = f"❌ {n} host{'s' if n != 1 else ''} · {exit_text}"
    return Panel(Group(*parts), title=Text(title), title_align="left", box=box.ROUNDED)


def render_execution(
    execution: ExecutionDetail,
    *,
    now: datetime,
    workflow_name: str | None = None,
    scrubber: Scrubber | None = None,
    all_hosts: bool = False,
) -> RenderableType:
    """Status, times, counts, and each error group with hosts and the last log lines.

    ``all_hosts`` (``show --all``) lists every failed host instead of the first few per group.
    """
    scrubber = scrubber or Scrubber()
    head, groups = _execution_parts(
        execution, now=now, workflow_name=workflow_name, scrubber=scrubber
    )
    max_hosts = None if all_hosts else MAX_HOSTS_PER_GROUP
    return Group(*head, *(_group_panel(g, scrubber, max_hosts=max_hosts) for g in groups))


def render_execution_fitted(
    execution: ExecutionDetail,
    *,
    now: datetime,
    console: Console,
    height: int,
    workflow_name: str | None = None,
    scrubber: Scrubber | None = None,
) -> RenderableType:
    """The view cut to ``height`` lines of ``console`` (``show --follow``): the facts, then
    as many compact error groups as fit, then one line counting the groups left out."""
    scrubber = scrubber or Scrubber()
    head, groups = _execution_parts(
        execution, now=now, workflow_name=workflow_name, scrubber=scrubber
    )
    options = console.options

    def lines(renderable: RenderableType) -> int:
        return len(console.render_lines(renderable, options, pad=False))

    used = sum(lines(part) for part in head)
    parts = list(head)
    index = 0
    # Whole compact panels while they fit (keeping a line for what is left out) ...
    while index < len(groups):
        panel = _group_panel(
            groups[index], scrubber, max_hosts=_FIT_HOSTS, log_lines=_FIT_LOG_LINES
        )
        reserve = 1 if index + 1 < len(groups) else 0
        if used + lines(panel) + reserve > height:
            break
        parts.append(panel)
        used += lines(panel)
        index += 1
    # ... then one line per further group ...
    while index < len(groups) and used + 1 + (1 if index + 1 < len(groups) else 0) <= height:
        parts.append(_group_line(groups[index], scrubber))
        used += 1
        index += 1
    # ... and one line counting the rest.
    rest = groups[index:]
    if rest:
        hosts = sum(len(g.hosts) for g in rest)
        parts.append(
            Text(
                f"+{len(rest)} more error group{'s' if len(rest) != 1 else ''} "
                f"({hosts} host{'s' if hosts != 1 else ''}) · {_ALL_HINT}",
                style="yellow",
            )
        )
    return Group(*parts)


def _group_line(group: ErrorGroup, scrubber: Scrubber) -> Text:
    """An error group on one line, for a screen with no room for its panel."""
    n = len(group.hosts)
    exit_text = "no exit code" if group.exit_code is None else f"exit code {group.exit_code}"
    text = Text(f"❌ {n} host{'s' if n != 1 else ''} · {exit_text} · ", style="bold red")
    text.append(_safe(scrubber, group.error, 200))
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _execution_parts(
    execution: ExecutionDetail,
    *,
    now: datetime,
    workflow_name: str | None,
    scrubber: Scrubber,
) -> tuple[list[RenderableType], tuple[ErrorGroup, ...]]:
    """The facts (title, table, nodes) and the error groups of the view."""
    analysis = analyse(execution)
    counts = analysis.counts
    title = Text.assemble(
        _status_text(execution.status, execution.raw_status, scrubber, counts.failed),
        " · ",
        (_safe(scrubber, workflow_name or execution.workflow_id or "execution", 100), "bold"),
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("Execution", Text(_safe(scrubber, execution.execution_id or "-", 100)))
    if execution.workflow_id:
        facts.add_row("Workflow", Text(_safe(scrubber, execution.workflow_id, 100)))
    if execution.begin_time:
        facts.add_row("Started", format_time(execution.begin_time, now))
    if execution.end_time:
        facts.add_row("Ended", format_time(execution.end_time, now))
    if execution.begin_time and execution.end_time:
        facts.add_row("Duration", format_duration(execution.end_time - execution.begin_time))
    elif execution.begin_time and not execution.is_terminal:
        facts.add_row("Running for", format_duration(now - execution.begin_time))
    if execution.approvers:
        names = ", ".join(_safe(scrubber, a, 60) for a in execution.approvers[:10])
        facts.add_row("Approvers", Text(names))
    hosts = " · ".join(f"{emoji} {n} {label}" for emoji, label, n in bucket_phrases(counts))
    facts.add_row("Hosts", Text(f"{counts.total}: {hosts}" if counts.total else "no host results"))
    if analysis.other_buckets:
        names = ", ".join(_safe(scrubber, b, 40) for b in analysis.other_buckets)
        facts.add_row("Other buckets", Text(names))
    parts: list[RenderableType] = [title, facts]
    if len(execution.nodes) > 1:
        nodes = Table(box=box.SIMPLE, show_edge=False, title="Nodes", title_justify="left")
        nodes.add_column("Node")
        nodes.add_column("Status")
        for node in execution.nodes:
            nodes.add_row(
                Text(_safe(scrubber, node.node_id or "-", 60)),
                _status_text(node.status, node.raw_status, scrubber),
            )
        parts.append(nodes)
    return parts, analysis.groups


def _short_time(moment: datetime | None, now: datetime | None) -> str:
    """``HH:MM`` today, else ``YYYY-MM-DD HH:MM``: a table cell, under a "(UTC)" heading."""
    if moment is None:
        return "-"
    moment = as_utc(moment)
    if moment.date() == as_utc(now or moment).date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


#: short cells that read badly when broken ("2/12", "14s"); names and times may fold instead
_UNBROKEN = frozenset({"Took", "Failed", "Type"})


def _table(*columns: str, id_column: str, ids: Sequence[str]) -> Table:
    """A compact table whose ID column never wraps: the other columns shrink or fold first.

    People copy these IDs into the next command; an ID split over two lines is a paste error.
    """
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in columns:
        if column == id_column:
            width = max((len(i) for i in ids), default=1)
            table.add_column(column, no_wrap=True, overflow="ignore", min_width=width)
        elif column in _UNBROKEN:
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    return table


def render_executions_table(
    executions: Sequence[ExecutionDetail],
    *,
    now: datetime | None = None,
    scrubber: Scrubber | None = None,
) -> RenderableType:
    """Executions newest first: id, status, start, duration, failed/total hosts, who started it."""
    scrubber = scrubber or Scrubber()
    ordered = sorted(executions, key=lambda e: e.begin_time.timestamp() if e.begin_time else 0.0)
    ids = [_safe(scrubber, e.execution_id or "-", _ID_MAX) for e in reversed(ordered)]
    table = _table(
        "Execution",
        "Status",
        "Started (UTC)",
        "Took",
        "Failed",
        "By",
        id_column="Execution",
        ids=ids,
    )
    for ident, execution in zip(ids, reversed(ordered), strict=True):
        counts = analyse(execution).counts
        took = "-"
        if execution.begin_time and execution.end_time:
            took = format_duration(execution.end_time - execution.begin_time)
        table.add_row(
            Text(ident),
            _status_text(execution.status, execution.raw_status, scrubber, counts.failed),
            _short_time(execution.begin_time, now),
            took,
            f"{counts.failed}/{counts.total}" if counts.total else "-",
            Text(_safe(scrubber, execution.created_by or "-", 30)),
        )
    return table


def render_workflows_table(
    workflows: Sequence[Workflow],
    *,
    now: datetime | None = None,
    scrubber: Scrubber | None = None,
) -> RenderableType:
    """Workflows: name, id, type, status and when they last ran."""
    scrubber = scrubber or Scrubber()
    ids = [_safe(scrubber, w.id or "-", _ID_MAX) for w in workflows]
    table = _table(
        "Name", "Workflow id", "Type", "Status", "Last run (UTC)", id_column="Workflow id", ids=ids
    )
    for ident, workflow in zip(ids, workflows, strict=True):
        table.add_row(
            Text(_safe(scrubber, workflow.name or "-", 60)),
            Text(ident),
            Text(_safe(scrubber, workflow.type or "-", 12)),
            _status_text(workflow.status, workflow.raw_status, scrubber),
            _short_time(workflow.last_execution_start_time, now),
        )
    return table
