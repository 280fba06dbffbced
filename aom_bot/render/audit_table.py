"""The audit log for a terminal (``aom-bot audit``): one row per entry, newest first.

One entry is one line, however narrow the terminal: people grep the audit and copy its IDs,
and a folded ID is a paste error. Names and IDs come from Slack users and AOM: they go into ``Text`` objects with control
characters removed, so none can inject rich markup or terminal escapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from aom_bot.action_records import ActionOutcome, NewAuditEntry
from aom_bot.render.escape import strip_controls
from aom_bot.render.limits import clip
from aom_bot.render.wording import as_utc

__all__ = ["AUDIT_TABLE_COLUMNS", "render_audit_table"]

AUDIT_TABLE_COLUMNS = (
    "Time (UTC)",
    "User",
    "Channel",
    "Profile",
    "Action",
    "Workflow",
    "Execution",
    "Node",
    "Outcome",
    "AOM request ID",
)
_OUTCOME_STYLE = {
    ActionOutcome.DONE: "green",
    ActionOutcome.DENIED: "yellow",
    ActionOutcome.FAILED: "red",
    ActionOutcome.UNKNOWN: "magenta",
    ActionOutcome.EXPIRED: "dim",
    ActionOutcome.CANCELLED: "dim",
    ActionOutcome.REQUESTED: "cyan",
}


def _cell(value: str | None, limit: int = 128) -> Text:
    return Text(clip(strip_controls(value).replace("\n", " "), limit) if value else "-")


def _user(entry: NewAuditEntry) -> Text:
    name = strip_controls(entry.user_name).replace("\n", " ").strip()
    return _cell(f"{clip(name, 40)} ({entry.user_id})" if name else entry.user_id)


def _execution(entry: NewAuditEntry) -> Text:
    """The execution acted on; for ``run``, the one it started."""
    if entry.execution_id is None and entry.result_execution_id:
        return _cell(f"→ {entry.result_execution_id}")
    return _cell(entry.execution_id)


def render_audit_table(entries: Sequence[NewAuditEntry]) -> RenderableType:
    """The entries in the order given (the store lists them newest first). Nothing wraps:
    print it at least as wide as it is (``Console.measure``), one entry a line, for grep."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in AUDIT_TABLE_COLUMNS:
        table.add_column(column, no_wrap=True)
    for entry in entries:
        table.add_row(
            Text(as_utc(entry.at).strftime("%Y-%m-%d %H:%M:%S")),
            _user(entry),
            _cell(entry.channel_id),
            _cell(entry.profile),
            Text(entry.action.value),
            _cell(entry.workflow_id),
            _execution(entry),
            _cell(entry.node_id),
            Text(entry.outcome.value, style=_OUTCOME_STYLE.get(entry.outcome, "")),
            _cell(entry.aom_request_id),
        )
    return table
