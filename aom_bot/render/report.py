"""The full report: every host of every node with bucket, IP, AZ, exit code, error and full log.

It is what the "All failed hosts" button uploads when the card cannot hold everything, so it
never truncates. Secrets are scrubbed; CSV cells that a spreadsheet would run as a formula
(``=``, ``+``, ``-``, ``@`` …) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime

from aom_bot.aom.models import BUCKET_ORDER, ExecutionDetail, Host
from aom_bot.render.analysis import Analysis, analyse, host_error, natural_key
from aom_bot.render.escape import strip_controls
from aom_bot.render.scrub import Scrubber
from aom_bot.render.wording import (
    as_utc,
    bucket_phrases,
    format_duration,
    format_time,
    status_label,
)

__all__ = ["CSV_COLUMNS", "report_csv", "report_text"]

CSV_COLUMNS: tuple[str, ...] = (
    "node_id",
    "bucket",
    "name",
    "host_id",
    "ip",
    "floating_ips",
    "availability_zone",
    "os_type",
    "agent_state",
    "exit_code",
    "code",
    "error",
    "execute_time_ms",
    "log",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_BUCKET_RANK = {b.value: i for i, b in enumerate(BUCKET_ORDER)}


def _cell(value: str, scrubber: Scrubber) -> str:
    text = scrubber.scrub(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _rows(execution: ExecutionDetail) -> list[tuple[str, str, Host]]:
    """(node_id, bucket, host) sorted by node order, worst bucket first, then host name."""
    rows: list[tuple[int, int, tuple[tuple[int, str], ...], str, str, Host]] = []
    for node_index, node in enumerate(execution.nodes):
        for bucket, hosts in node.buckets.items():
            rank = _BUCKET_RANK.get(bucket, len(_BUCKET_RANK))
            rows.extend(
                (node_index, rank, natural_key(h.label), node.node_id, bucket, h) for h in hosts
            )
    rows.sort(key=lambda r: (r[0], r[1], r[4], r[2]))
    return [(node_id, bucket, host) for *_, node_id, bucket, host in rows]


def report_csv(execution: ExecutionDetail, *, scrubber: Scrubber | None = None) -> str:
    """One CSV row per (node, host): for spreadsheets and grep."""
    scrubber = scrubber or Scrubber()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for node_id, bucket, host in _rows(execution):
        error = host_error(host) if bucket == "fail" else host.error_msg
        values = (
            node_id,
            bucket,
            host.name,
            host.id,
            host.ip,
            " ".join(host.floating_ips),
            host.availability_zone,
            host.os_type,
            host.agent_state,
            "" if host.exit_code is None else str(host.exit_code),
            host.code,
            error,
            "" if host.execute_time_ms is None else str(host.execute_time_ms),
            host.log,
        )
        writer.writerow([_cell(strip_controls(v), scrubber) for v in values])
    return out.getvalue()


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def report_text(
    execution: ExecutionDetail,
    *,
    now: datetime,
    workflow_name: str | None = None,
    scrubber: Scrubber | None = None,
) -> str:
    """A readable report: summary, error groups with all their hosts, then every host's log."""
    now = as_utc(now)
    scrubber = scrubber or Scrubber()
    analysis = analyse(execution)

    def safe(text: str) -> str:
        return scrubber.scrub(strip_controls(text))

    lines = _summary_lines(execution, analysis, workflow_name, now, safe)
    lines += _group_lines(analysis, safe)
    lines += _host_lines(execution, safe)
    return "\n".join(lines).rstrip("\n") + "\n"


def _summary_lines(
    execution: ExecutionDetail,
    analysis: Analysis,
    workflow_name: str | None,
    now: datetime,
    safe: Callable[[str], str],
) -> list[str]:
    title = workflow_name or execution.workflow_id or "(unnamed workflow)"
    lines = [
        f"AOM execution report — {safe(title)}",
        "",
        f"Status:     {safe(status_label(execution.status, execution.raw_status))}",
        f"Workflow:   {safe(execution.workflow_id) or '-'}",
        f"Execution:  {safe(execution.execution_id) or '-'}",
    ]
    if execution.begin_time:
        lines.append(f"Started:    {format_time(execution.begin_time, now)}")
    if execution.end_time:
        lines.append(f"Ended:      {format_time(execution.end_time, now)}")
        if execution.begin_time:
            took = format_duration(execution.end_time - execution.begin_time)
            lines.append(f"Duration:   {took}")
    lines.append(f"Generated:  {format_time(now, now)}")
    counts = analysis.counts
    phrases = ", ".join(f"{n} {label}" for _, label, n in bucket_phrases(counts))
    return [*lines, "", f"Hosts: {counts.total} ({phrases})", ""]


def _group_lines(analysis: Analysis, safe: Callable[[str], str]) -> list[str]:
    if not analysis.groups:
        return []
    lines = [f"FAILED HOSTS BY ERROR ({len(analysis.groups)} groups)", "=" * 40]
    for number, group in enumerate(analysis.groups, start=1):
        exit_text = "none" if group.exit_code is None else str(group.exit_code)
        lines.append(
            f"[{number}] {len(group.hosts)} host(s), exit code {exit_text}: {safe(group.error)}"
        )
        if group.dominant_zone:
            lines.append(
                f"    zonal: {group.dominant_zone_hosts} of {len(group.hosts)} "
                f"in {safe(group.dominant_zone)}"
            )
        for host in group.hosts:
            lines.append(
                f"    - {safe(host.label)}  {safe(host.ip) or '-'}  "
                f"{safe(host.availability_zone) or '-'}"
            )
    lines.append("")
    return lines


def _host_lines(execution: ExecutionDetail, safe: Callable[[str], str]) -> list[str]:
    lines = ["ALL HOSTS", "=" * 40]
    for node_id, bucket, host in _rows(execution):
        exit_text = "-" if host.exit_code is None else str(host.exit_code)
        lines.append(
            f"{safe(host.label)}  [{safe(bucket)}]  node {safe(node_id) or '-'}  "
            f"ip {safe(host.ip) or '-'}  az {safe(host.availability_zone) or '-'}  "
            f"exit {exit_text}"
        )
        if bucket == "fail" or host.error_msg:
            error = host_error(host) if bucket == "fail" else host.error_msg
            lines.append(f"    error: {safe(error)}")
        if host.log:
            lines.append("    log:")
            lines.append(_indent(safe(host.log).rstrip("\n"), "      | "))
        lines.append("")
    return lines
