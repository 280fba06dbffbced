"""Shared wording for Slack, reports and the terminal: status labels, times, durations, counts.

>>> format_duration(timedelta(seconds=95))
'1m 35s'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aom_bot.aom.models import ExecutionStatus
from aom_bot.render.analysis import BucketCounts

__all__ = [
    "BUCKET_LABELS",
    "as_utc",
    "bucket_phrases",
    "execution_emoji",
    "format_clock",
    "format_duration",
    "format_time",
    "progress_bar",
    "slack_clock",
    "slack_time",
    "status_emoji",
    "status_label",
]

_STATUS: dict[ExecutionStatus, tuple[str, str]] = {
    ExecutionStatus.WAIT_EXECUTE: ("⏳", "waiting"),
    ExecutionStatus.EXECUTING: ("🔄", "executing"),
    ExecutionStatus.WAIT_APPROVAL: ("✋", "waiting for approval"),
    ExecutionStatus.APPROVAL_FAILED: ("⛔", "approval failed"),
    ExecutionStatus.PAUSING: ("⏸️", "pausing"),
    ExecutionStatus.PAUSED: ("⏸️", "paused"),
    ExecutionStatus.CANCELING: ("🛑", "cancelling"),
    ExecutionStatus.CANCEL: ("🚫", "cancelled"),
    ExecutionStatus.SUCCESS: ("✅", "success"),
    ExecutionStatus.FAIL: ("❌", "fail"),
    ExecutionStatus.UNKNOWN: ("❔", "unknown"),
}

#: (emoji, label) per bucket kind, in display order
BUCKET_LABELS: dict[str, tuple[str, str]] = {
    "succeeded": ("✅", "succeeded"),
    "failed": ("❌", "failed"),
    "running": ("🔄", "running"),
    "not_performed": ("⚪", "not performed"),
    "other": ("❔", "in other buckets"),
}

_RAW_STATUS_MAX = 40


def status_emoji(status: ExecutionStatus) -> str:
    return _STATUS[status][0]


def execution_emoji(status: ExecutionStatus, failed_hosts: int) -> str:
    """The status emoji, but ❌ for a status nobody knows while hosts have failed.

    Failed hosts are failed whatever the status text says: an unknown status must not make
    them read as neutral.
    """
    if status is ExecutionStatus.UNKNOWN and failed_hosts:
        return _STATUS[ExecutionStatus.FAIL][0]
    return status_emoji(status)


def status_label(status: ExecutionStatus, raw: str = "") -> str:
    """Words for a status; UNKNOWN shows AOM's raw text (untrusted: the caller escapes it)."""
    if status is ExecutionStatus.UNKNOWN:
        raw = " ".join(raw.split())[:_RAW_STATUS_MAX]
        return raw or "unknown"
    return _STATUS[status][1]


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_clock(moment: datetime) -> str:
    """``HH:MM:SS UTC``."""
    return as_utc(moment).strftime("%H:%M:%S UTC")


def format_time(moment: datetime, now: datetime) -> str:
    """``HH:MM:SS UTC`` for today (relative to ``now``), else ``YYYY-MM-DD HH:MM:SS UTC``."""
    moment = as_utc(moment)
    if moment.date() == as_utc(now).date():
        return format_clock(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _slack_date(moment: datetime, token: str, fallback: str) -> str:
    return f"<!date^{int(moment.timestamp())}^{token}|{fallback}>"


def slack_clock(moment: datetime) -> str:
    """``HH:MM:SS`` in each reader's own time zone (Slack date formatting), UTC as fallback.

    Only for mrkdwn text: Slack shows the fallback where it cannot render the token.
    """
    moment = as_utc(moment)
    return _slack_date(moment, "{time_secs}", format_clock(moment))


def slack_time(moment: datetime, now: datetime) -> str:
    """``HH:MM`` (with the date when not today) in each reader's zone; ``HH:MM UTC`` fallback."""
    moment = as_utc(moment)
    if moment.date() == as_utc(now).date():
        return _slack_date(moment, "{time}", moment.strftime("%H:%M UTC"))
    return _slack_date(moment, "{date_short_pretty} {time}", moment.strftime("%Y-%m-%d %H:%M UTC"))


def format_duration(span: timedelta) -> str:
    """Compact duration: ``41s``, ``1m 35s``, ``2h 03m``, ``3d 4h``; negative spans are 0s."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def progress_bar(done: int, total: int, *, width: int = 10) -> str:
    """``███░░░░░░░ 30%``: finished hosts over all hosts (never over 100%)."""
    if total <= 0:
        return "░" * width + " 0%"
    fraction = min(1.0, max(0.0, done / total))
    filled = int(fraction * width)
    return "█" * filled + "░" * (width - filled) + f" {int(fraction * 100)}%"


def bucket_phrases(counts: BucketCounts) -> list[tuple[str, str, int]]:
    """(emoji, label, count) for each bucket kind; ``other`` only when there are such hosts."""
    values = {
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "running": counts.running,
        "not_performed": counts.not_performed,
        "other": counts.other,
    }
    return [
        (emoji, label, values[kind])
        for kind, (emoji, label) in BUCKET_LABELS.items()
        if kind != "other" or counts.other
    ]
