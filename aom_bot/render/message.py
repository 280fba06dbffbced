"""The execution card: an ExecutionDetail as a Block Kit message that always fits Slack's limits.

Layout: header (status, workflow) · context (ids, times, "updated", approvers, notice) · summary
(buckets, progress) · nodes (multi-node only) · one section per error group (hosts, zone, log
tail) · compact lines for further groups · an honest footer · buttons. Every AOM string is scrubbed,
then clipped, then escaped; every failed host is either listed or counted in a "+N more".

>>> from datetime import UTC, datetime
>>> from aom_bot.aom.models import ExecutionDetail
>>> detail = ExecutionDetail.model_validate({"execution_id": "e1", "status": "success"})
>>> execution_message(detail, now=datetime(2024, 3, 15, tzinfo=UTC)).text
'✅ success · e1'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from aom_bot.aom.models import ExecutionDetail, ExecutionStatus, NodeResult
from aom_bot.render import kit
from aom_bot.render.action_buttons import ActionButton, action_elements
from aom_bot.render.actions import (
    ACTION_CONSOLE,
    ACTION_FOLLOW,
    ACTION_REFRESH,
    ACTION_REPORT,
    ACTION_UNFOLLOW,
    encode_ref,
)
from aom_bot.render.analysis import (
    Analysis,
    BucketCounts,
    analyse,
    node_counts,
)
from aom_bot.render.escape import Mrkdwn, escape_mrkdwn, inline_code, plain_text_safe
from aom_bot.render.failures import failed_blocks
from aom_bot.render.kit import Block, SlackMessage
from aom_bot.render.limits import (
    ACTIONS_ELEMENTS_MAX,
    BUTTON_URL_MAX,
    CONTEXT_TEXT_MAX,
    FALLBACK_TEXT_MAX,
    HEADER_TEXT_MAX,
    TOTAL_TEXT_BUDGET,
    clip,
    clip_rendered,
    total_text_length,
    utf16_len,
)
from aom_bot.render.scrub import Scrubber
from aom_bot.render.wording import (
    as_utc,
    bucket_phrases,
    execution_emoji,
    format_duration,
    progress_bar,
    slack_clock,
    slack_time,
    status_emoji,
    status_label,
)

__all__ = ["execution_message", "short_summary"]

_NODES_BUDGET = 1500
_MAX_APPROVERS = 10


def _safe(scrubber: Scrubber, text: str, limit: int) -> str:
    """Scrubbed, clipped, mrkdwn-escaped untrusted text (clipping before escaping)."""
    return clip_rendered(scrubber.scrub(text), limit, escape_mrkdwn)


def _code(scrubber: Scrubber, text: str, limit: int) -> str:
    return clip_rendered(scrubber.scrub(text), limit, inline_code)


def _workflow_title(execution: ExecutionDetail, workflow_name: str | None) -> str:
    return workflow_name or execution.workflow_id or execution.execution_id or "execution"


def short_summary(
    execution: ExecutionDetail,
    *,
    workflow_name: str | None = None,
    scrubber: Scrubber | None = None,
    analysis: Analysis | None = None,
) -> str:
    """One line for notifications: ``❌ fail · deploy-nginx · 12/200 hosts failed``."""
    scrubber = scrubber or Scrubber()
    counts = (analysis or analyse(execution)).counts
    label = escape_mrkdwn(scrubber.scrub(status_label(execution.status, execution.raw_status)))
    parts = [f"{execution_emoji(execution.status, counts.failed)} {label}"]
    parts.append(_safe(scrubber, _workflow_title(execution, workflow_name), 120))
    if counts.total:
        parts.append(_progress_phrase(execution, counts))
    return clip(" · ".join(parts), FALLBACK_TEXT_MAX)


def _progress_phrase(execution: ExecutionDetail, counts: BucketCounts) -> str:
    # An unknown status may be an end nobody told us about: its failures come first.
    if execution.is_terminal or (counts.failed and execution.status is ExecutionStatus.UNKNOWN):
        if counts.failed:
            return f"{counts.failed}/{counts.total} hosts failed"
        return f"{counts.succeeded}/{counts.total} hosts succeeded"
    phrase = f"{counts.finished}/{counts.total} hosts done"
    return phrase + (f", {counts.failed} failed" if counts.failed else "")


# --- header, context, summary --------------------------------------------------------------


def _header(
    execution: ExecutionDetail, title: str, scrubber: Scrubber, counts: BucketCounts
) -> Block:
    label = status_label(execution.status, execution.raw_status)
    label = label[:1].upper() + label[1:]
    emoji = execution_emoji(execution.status, counts.failed)
    text = f"{emoji} {plain_text_safe(scrubber.scrub(label))} · "
    text += plain_text_safe(scrubber.scrub(title))
    return kit.header(clip(text, HEADER_TEXT_MAX) or "Execution")


def _context(
    execution: ExecutionDetail,
    *,
    now: datetime,
    notice: str | None,
    scrubber: Scrubber,
    title_is_id: bool,
    profile_label: str | None = None,
) -> Block:
    texts: list[str] = []
    if profile_label:
        texts.append(f"🏷️ {_safe(scrubber, profile_label, 80)}")
    ident = f"Execution {_code(scrubber, execution.execution_id, 100)}"
    if execution.workflow_id and not title_is_id:
        ident += f" of {_code(scrubber, execution.workflow_id, 100)}"
    texts.append(ident)
    if execution.begin_time:
        texts.append(f"Started {slack_time(execution.begin_time, now)}")
    if execution.end_time:
        texts.append(f"Ended {slack_time(execution.end_time, now)}")
    if execution.created_by:
        texts.append(f"by {_safe(scrubber, execution.created_by, 80)}")
    if execution.status is ExecutionStatus.WAIT_APPROVAL or (
        execution.approvers and not execution.is_terminal
    ):
        texts.append(_approvers(execution.approvers, scrubber))
    texts.append(f"updated {slack_clock(now)}")
    if notice:
        shown = notice if isinstance(notice, Mrkdwn) else _safe(scrubber, notice, 500)
        texts.append("⚠️ " + shown)
    return kit.context(*(clip(t, CONTEXT_TEXT_MAX) for t in texts))


def _approvers(approvers: list[str], scrubber: Scrubber) -> str:
    if not approvers:
        return "✋ Awaiting approval"
    shown = [_safe(scrubber, name, 60) for name in approvers[:_MAX_APPROVERS]]
    more = len(approvers) - len(shown)
    return "✋ Awaiting approval from " + ", ".join(shown) + (f" +{more} more" if more else "")


def _duration(execution: ExecutionDetail, now: datetime) -> str:
    """ "took 1m 35s" when it ended, "running for 41s" while active, "" when unknown."""
    if execution.begin_time is None:
        return ""
    if execution.end_time is not None:
        return "took " + format_duration(execution.end_time - execution.begin_time)
    if execution.is_terminal:
        return ""
    return "running for " + format_duration(now - execution.begin_time)


def _summary(
    execution: ExecutionDetail, analysis: Analysis, scrubber: Scrubber, now: datetime
) -> Block:
    counts = analysis.counts
    if not counts.total:
        lines = ["No host results yet." if not execution.is_terminal else "No host results."]
    else:
        noun = "host" if counts.total == 1 else "hosts"
        phrases = [
            f"{emoji} {n} {label}"
            for emoji, label, n in bucket_phrases(counts)
            if n or label in ("succeeded", "failed")
        ]
        lines = [f"*{counts.total} {noun}* · " + " · ".join(phrases)]
        if analysis.other_buckets:
            names = ", ".join(_code(scrubber, b, 40) for b in analysis.other_buckets[:5])
            more = len(analysis.other_buckets) - 5
            lines.append(f"Unknown buckets: {names}" + (f" +{more} more" if more > 0 else ""))
    progress: list[str] = []
    if not execution.is_terminal and counts.total:
        bar = progress_bar(counts.finished, counts.total)
        progress.append(f"`{bar}` done ({counts.finished}/{counts.total})")
    duration = _duration(execution, now)
    if duration:
        progress.append("⏱ " + duration)
    if progress:
        lines.append(" · ".join(progress))
    return kit.section("\n".join(lines))


def _node_line(node: NodeResult, scrubber: Scrubber) -> str:
    status = status_label(node.status, node.raw_status)
    line = f"• {_code(scrubber, node.node_id or '(node)', 80)} {status_emoji(node.status)} "
    line += escape_mrkdwn(scrubber.scrub(status))
    if node.buckets:
        counts = node_counts(node)
        line += " — " + " · ".join(f"{e} {n}" for e, _, n in bucket_phrases(counts) if n)
    elif node.raw_output is not None:
        raw = json.dumps(node.raw_output, ensure_ascii=False, default=str)
        line += " — output " + _code(scrubber, raw, 200)
    return line


def _nodes(execution: ExecutionDetail, scrubber: Scrubber) -> Block | None:
    if len(execution.nodes) < 2 and not any(n.raw_output is not None for n in execution.nodes):
        return None
    lines = ["*Nodes*"]
    used = utf16_len(lines[0])
    for i, node in enumerate(execution.nodes):
        line = _node_line(node, scrubber)
        rest = len(execution.nodes) - i
        if used + utf16_len(line) + 1 > _NODES_BUDGET - 40:
            lines.append(f"+{rest} more {'node' if rest == 1 else 'nodes'}")
            break
        lines.append(line)
        used += utf16_len(line) + 1
    return kit.section("\n".join(lines))


# --- buttons -------------------------------------------------------------------------------


def _buttons(
    execution: ExecutionDetail,
    counts: BucketCounts,
    *,
    following: bool,
    console_url: str | None,
    profile: str | None,
) -> Block | None:
    elements: list[Block] = []
    ref: str | None = None
    if execution.workflow_id and execution.execution_id:
        try:
            ref = encode_ref(execution.workflow_id, execution.execution_id, profile)
        except ValueError:
            ref = None
    if ref is not None:
        elements.append(kit.button("Refresh", ACTION_REFRESH, value=ref))
        if not execution.is_terminal:
            if following:
                elements.append(kit.button("Stop following", ACTION_UNFOLLOW, value=ref))
            else:
                elements.append(kit.button("Follow", ACTION_FOLLOW, value=ref, style="primary"))
        if counts.total:
            label = "All failed hosts" if counts.failed else "Full report"
            elements.append(kit.button(label, ACTION_REPORT, value=ref))
    if (
        console_url
        and console_url.startswith(("https://", "http://"))
        and utf16_len(console_url) <= BUTTON_URL_MAX
    ):
        elements.append(kit.button("Open in console", ACTION_CONSOLE, url=console_url, value=ref))
    return kit.actions(*elements) if elements else None


# --- the message ---------------------------------------------------------------------------


def execution_message(
    execution: ExecutionDetail,
    *,
    now: datetime,
    workflow_name: str | None = None,
    following: bool = False,
    console_url: str | None = None,
    notice: str | None = None,
    scrubber: Scrubber | None = None,
    profile: str | None = None,
    profile_label: str | None = None,
    actions: Sequence[ActionButton] = (),
) -> SlackMessage:
    """The execution card. Pure: the same arguments always give the same message.

    ``profile`` goes into the buttons' values (a click acts in the execution's profile);
    ``profile_label`` is shown when the bot serves several profiles."""
    now = as_utc(now)
    scrubber = scrubber or Scrubber()
    analysis = analyse(execution)
    title = _workflow_title(execution, workflow_name)
    blocks: list[Block] = [
        _header(execution, title, scrubber, analysis.counts),
        _context(
            execution,
            now=now,
            notice=notice,
            scrubber=scrubber,
            title_is_id=title == execution.workflow_id,
            profile_label=profile_label,
        ),
        _summary(execution, analysis, scrubber, now),
    ]
    nodes = _nodes(execution, scrubber)
    if nodes is not None:
        blocks.append(nodes)
    buttons = _buttons(
        execution, analysis.counts, following=following, console_url=console_url, profile=profile
    )
    tail: list[Block] = [buttons] if buttons is not None else []
    if actions:
        tail.append(kit.actions(*action_elements(actions[:ACTIONS_ELEMENTS_MAX])))
    if analysis.groups:
        used = total_text_length(blocks) + total_text_length(tail)
        blocks.append(kit.divider())
        blocks.extend(
            failed_blocks(
                analysis.groups,
                analysis.counts.failed,
                TOTAL_TEXT_BUDGET - used,
                scrubber,
                multi_node=len(execution.nodes) > 1,
            )
        )
    blocks.extend(tail)
    text = short_summary(
        execution, workflow_name=workflow_name, scrubber=scrubber, analysis=analysis
    )
    return SlackMessage(text=text, blocks=blocks)
