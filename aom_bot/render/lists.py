"""Messages listing executions of a workflow, and workflows: one row each with a Show button.

Rows are sections with a button accessory (``ACTION_SHOW`` carrying :func:`encode_ref`), so a
message holds at most :data:`MAX_ROWS` rows; the rest is counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aom_bot.aom.models import ExecutionDetail, Workflow
from aom_bot.render import kit
from aom_bot.render.actions import ACTION_SHOW, encode_ref
from aom_bot.render.analysis import analyse
from aom_bot.render.escape import escape_mrkdwn, inline_code, plain_text_safe
from aom_bot.render.kit import Block, SlackMessage
from aom_bot.render.limits import (
    HEADER_TEXT_MAX,
    SECTION_TEXT_BUDGET,
    TOTAL_TEXT_BUDGET,
    clip,
    clip_rendered,
    utf16_len,
)
from aom_bot.render.scrub import Scrubber
from aom_bot.render.wording import (
    as_utc,
    format_duration,
    slack_time,
    status_emoji,
    status_label,
)

__all__ = ["MAX_ROWS", "executions_message", "workflows_message"]

#: rows per list message (each row is one block; header, context and footer take the rest)
MAX_ROWS = 40
_ROW_MAX = 600


def _code(scrubber: Scrubber, text: str, limit: int) -> str:
    return clip_rendered(scrubber.scrub(text), limit, inline_code)


def _safe(scrubber: Scrubber, text: str, limit: int) -> str:
    return clip_rendered(scrubber.scrub(text), limit, escape_mrkdwn)


def _show_button(workflow_id: str, execution_id: str, text: str = "Show") -> Block | None:
    if not workflow_id or not execution_id:
        return None
    try:
        return kit.button(text, ACTION_SHOW, value=encode_ref(workflow_id, execution_id))
    except ValueError:
        return None


def _execution_row(execution: ExecutionDetail, now: datetime, scrubber: Scrubber) -> str:
    status = escape_mrkdwn(scrubber.scrub(status_label(execution.status, execution.raw_status)))
    parts = [
        f"{status_emoji(execution.status)} *{status}* {_code(scrubber, execution.execution_id or '-', 80)}"
    ]
    details: list[str] = []
    if execution.begin_time:
        details.append(f"started {slack_time(execution.begin_time, now)}")
    if execution.begin_time and execution.end_time:
        details.append(f"took {format_duration(execution.end_time - execution.begin_time)}")
    counts = analyse(execution).counts
    if counts.total:
        details.append(f"{counts.failed}/{counts.total} hosts failed")
    if execution.created_by:
        details.append(f"by {_safe(scrubber, execution.created_by, 60)}")
    if details:
        parts.append(" · ".join(details))
    return clip("\n".join(parts), _ROW_MAX)


def _footer(total: int, shown: int, what: str, hint: str) -> Block | None:
    if total <= shown:
        return None
    return kit.context(
        f"Showing {shown} of {total} {what}; +{total - shown} more not shown. {hint}"
    )


def _fit_rows(rows: list[tuple[str, Block | None]], budget: int) -> list[Block]:
    blocks: list[Block] = []
    for text, button in rows:
        cost = utf16_len(text) + (utf16_len(button["text"]["text"]) if button else 0)
        if cost > budget:
            break
        blocks.append(kit.section(text, accessory=button))
        budget -= cost
    return blocks


def executions_message(
    workflow_id: str,
    executions: Sequence[ExecutionDetail],
    *,
    limit: int,
    now: datetime,
    scrubber: Scrubber | None = None,
) -> SlackMessage:
    """Recent executions of one workflow, newest first, each with a Show button."""
    now = as_utc(now)
    scrubber = scrubber or Scrubber()
    ordered = sorted(
        executions,
        key=lambda e: (e.begin_time.timestamp() if e.begin_time else 0.0, e.execution_id),
        reverse=True,
    )
    wanted = ordered[: max(0, min(limit, MAX_ROWS))]
    title = clip(
        "Executions of " + plain_text_safe(scrubber.scrub(workflow_id or "workflow")),
        HEADER_TEXT_MAX,
    )
    blocks: list[Block] = [kit.header(title)]
    if not ordered:
        blocks.append(kit.section("No executions found for this workflow."))
    rows = [
        (
            _execution_row(e, now, scrubber),
            _show_button(e.workflow_id or workflow_id, e.execution_id),
        )
        for e in wanted
    ]
    row_blocks = _fit_rows(rows, TOTAL_TEXT_BUDGET - 600)
    blocks.extend(row_blocks)
    footer = _footer(
        len(ordered), len(row_blocks), "executions", "Older runs are in the AOM console."
    )
    if footer is not None:
        blocks.append(footer)
    latest = ordered[0] if ordered else None
    text = f"{len(ordered)} executions of {_safe(scrubber, workflow_id, 100)}"
    if latest is not None:
        latest_status = status_label(latest.status, latest.raw_status)
        text += f" · latest: {status_emoji(latest.status)} {_safe(scrubber, latest_status, 60)}"
    return SlackMessage(text=text, blocks=blocks)


def _workflow_row(workflow: Workflow, now: datetime, scrubber: Scrubber) -> str:
    name = _safe(scrubber, workflow.name or workflow.id or "(unnamed)", 120)
    line = f"*{name}* {_code(scrubber, workflow.id or '-', 80)}"
    details: list[str] = []
    if workflow.type:
        details.append(_safe(scrubber, workflow.type, 20))
    if workflow.raw_status:
        status = escape_mrkdwn(scrubber.scrub(status_label(workflow.status, workflow.raw_status)))
        details.append(f"last run {status_emoji(workflow.status)} {status}")
    if workflow.last_execution_start_time:
        details.append(f"at {slack_time(workflow.last_execution_start_time, now)}")
    if workflow.description:
        details.append(_safe(scrubber, workflow.description, 150))
    if details:
        line += "\n" + " · ".join(details)
    return clip(line, min(_ROW_MAX, SECTION_TEXT_BUDGET))


def workflows_message(
    workflows: Sequence[Workflow],
    *,
    filter_text: str,
    now: datetime,
    scrubber: Scrubber | None = None,
) -> SlackMessage:
    """Workflows whose name or id contains ``filter_text`` (case-insensitive), sorted by name."""
    now = as_utc(now)
    scrubber = scrubber or Scrubber()
    needle = filter_text.strip().casefold()
    matching = [
        w
        for w in workflows
        if not needle or needle in w.name.casefold() or needle in w.id.casefold()
    ]
    matching.sort(key=lambda w: (w.name.casefold(), w.id))
    header = "Workflows" + (f" matching “{plain_text_safe(filter_text.strip())}”" if needle else "")
    blocks: list[Block] = [kit.header(clip(header, HEADER_TEXT_MAX))]
    if not matching:
        blocks.append(kit.section("No workflows match." if needle else "No workflows found."))
    rows = [
        (
            _workflow_row(w, now, scrubber),
            _show_button(w.id, w.last_execution_id, "Last run"),
        )
        for w in matching[:MAX_ROWS]
    ]
    row_blocks = _fit_rows(rows, TOTAL_TEXT_BUDGET - 600)
    blocks.extend(row_blocks)
    footer = _footer(len(matching), len(row_blocks), "workflows", "Narrow the list with a filter.")
    if footer is not None:
        blocks.append(footer)
    text = f"{len(matching)} workflows" + (
        f" matching {_safe(scrubber, filter_text.strip(), 80)}" if needle else ""
    )
    return SlackMessage(text=text, blocks=blocks)
