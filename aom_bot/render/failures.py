"""The failed-hosts part of the card: one section per error group, then an honest footer.

Budgets are in UTF-16 units. The first groups get hosts and a log excerpt, the next ones a line
each, the rest a count; the footer says how many failed hosts were listed and how many are only
in the full report, so every failed host is either shown or counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from aom_bot.aom.models import Host
from aom_bot.render import kit
from aom_bot.render.analysis import ErrorGroup, log_tail
from aom_bot.render.escape import code_block, escape_mrkdwn, inline_code
from aom_bot.render.kit import Block
from aom_bot.render.limits import SECTION_TEXT_BUDGET, clip, clip_rendered, utf16_len
from aom_bot.render.scrub import Scrubber

__all__ = [
    "MAX_DETAILED_GROUPS",
    "MAX_HOSTS_PER_GROUP",
    "MAX_LOG_LINES",
    "failed_blocks",
    "log_excerpt",
]

#: error groups shown with hosts and a log excerpt; further groups get one line each
MAX_DETAILED_GROUPS = 5
#: hosts listed per group before "+N more"
MAX_HOSTS_PER_GROUP = 10
#: lines of the representative log shown
MAX_LOG_LINES = 12
_MIN_GROUP_BUDGET = 700
_LOG_WINDOW = 8192
_LOG_LINE_MAX = 240
_NAME_MAX = 60
_ERROR_SHOWN_MAX = 300
_FOOTER_RESERVE = 400
_UNIAGENT_HEADER = "/usr/local/uniagentd/tmp/"


def _safe(scrubber: Scrubber, text: str, limit: int) -> str:
    return clip_rendered(scrubber.scrub(text), limit, escape_mrkdwn)


def _code(scrubber: Scrubber, text: str, limit: int) -> str:
    return clip_rendered(scrubber.scrub(text), limit, inline_code)


def log_excerpt(
    log: str, scrubber: Scrubber, budget: int, *, max_lines: int = MAX_LOG_LINES
) -> str:
    """The last lines of ``log`` as a safe code block of at most ``budget`` units, or ""."""
    window, cut = log_tail(log, _LOG_WINDOW)
    text = scrubber.scrub(window).replace("\r\n", "\n").replace("\r", "\n")
    lines = [ln.rstrip() for ln in text.split("\n")]
    lines = [ln for ln in lines if not (ln.startswith(_UNIAGENT_HEADER) and ln.endswith(">-"))]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    if len(lines) > max_lines:
        lines = lines[-max_lines:]
        cut = True
    lines = [clip(ln, _LOG_LINE_MAX) for ln in lines]
    body = ("…\n" if cut else "") + "\n".join(lines)
    return clip_rendered(body, budget, code_block, tail=True)


def _host_line(host: Host, scrubber: Scrubber) -> str:
    line = "• " + _code(scrubber, host.label, _NAME_MAX)
    if host.ip and host.ip != host.label:
        line += " " + _safe(scrubber, host.ip, 45)
    if host.availability_zone:
        line += " · " + _safe(scrubber, host.availability_zone, 40)
    return line


def _exit_phrase(exit_code: int | None) -> str:
    return "no exit code" if exit_code is None else clip(f"exit code {exit_code}", 30)


def _hosts_phrase(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"


@dataclass(frozen=True, slots=True)
class _GroupSection:
    text: str
    shown_hosts: int


def _group_section(
    group: ErrorGroup, budget: int, scrubber: Scrubber, *, multi_node: bool
) -> _GroupSection:
    n = len(group.hosts)
    head = f"*❌ {_hosts_phrase(n)} · {_exit_phrase(group.exit_code)}*"
    if multi_node and any(group.node_ids):
        head += " in " + ", ".join(_code(scrubber, nid, 40) for nid in group.node_ids[:3])
    head += "\n" + _code(scrubber, group.error, min(_ERROR_SHOWN_MAX, budget // 4))
    parts = [head]
    if group.dominant_zone:
        zone = _safe(scrubber, group.dominant_zone, 40)
        parts.append(f"⚠️ Zonal blast radius: {group.dominant_zone_hosts} of {n} in *{zone}*")
    used = sum(utf16_len(p) + 1 for p in parts)
    host_budget = max(0, min(budget - used, budget * 3 // 5)) - 30  # room for "+N more"
    shown = 0
    for host in group.hosts[:MAX_HOSTS_PER_GROUP]:
        line = _host_line(host, scrubber)
        if utf16_len(line) + 1 > host_budget:
            break
        parts.append(line)
        host_budget -= utf16_len(line) + 1
        shown += 1
    if n > shown:
        parts.append(f"+{n - shown} more {'host' if n - shown == 1 else 'hosts'}")
    text = "\n".join(parts)
    log_budget = budget - utf16_len(text) - 1
    if group.representative.log and log_budget >= 60:
        excerpt = log_excerpt(group.representative.log, scrubber, log_budget)
        if excerpt:
            if n > 1:
                label = "Log of " + _code(scrubber, group.representative.label, _NAME_MAX)
                if utf16_len(text) + utf16_len(label) + utf16_len(excerpt) + 2 <= budget:
                    text += "\n" + label
            text += "\n" + excerpt
    return _GroupSection(text, shown)


def _compact_line(group: ErrorGroup, scrubber: Scrubber) -> str:
    n = len(group.hosts)
    line = f"• *{_hosts_phrase(n)}* (not listed) · {_exit_phrase(group.exit_code)} · "
    line += _code(scrubber, group.error, 150)
    if group.dominant_zone:
        line += f" · ⚠️ {group.dominant_zone_hosts} in " + _safe(scrubber, group.dominant_zone, 40)
    return line


def failed_blocks(
    groups: tuple[ErrorGroup, ...],
    failed: int,
    budget: int,
    scrubber: Scrubber,
    *,
    multi_node: bool,
) -> list[Block]:
    """Sections for the error groups within ``budget``, then a footer accounting for the rest."""
    blocks: list[Block] = []
    shown_hosts = 0
    index = 0
    reserve = _FOOTER_RESERVE
    while index < len(groups) and index < MAX_DETAILED_GROUPS:
        left = budget - reserve
        share = left // max(1, min(len(groups), MAX_DETAILED_GROUPS) - index)
        group_budget = min(SECTION_TEXT_BUDGET, max(share, _MIN_GROUP_BUDGET))
        if group_budget > left or left < _MIN_GROUP_BUDGET:
            break
        section = _group_section(groups[index], group_budget, scrubber, multi_node=multi_node)
        blocks.append(kit.section(section.text))
        budget -= utf16_len(section.text)
        shown_hosts += section.shown_hosts
        index += 1

    if index < len(groups):
        lines = ["*More failures*"]
        used = utf16_len(lines[0])
        limit = min(SECTION_TEXT_BUDGET, budget - reserve)
        while index < len(groups):
            line = _compact_line(groups[index], scrubber)
            if used + utf16_len(line) + 1 > limit - 80:
                break
            lines.append(line)
            used += utf16_len(line) + 1
            index += 1
        rest = groups[index:]
        if rest:
            hosts = sum(len(g.hosts) for g in rest)
            lines.append(
                f"+{len(rest)} more error {'group' if len(rest) == 1 else 'groups'} "
                f"({_hosts_phrase(hosts)}), not listed here"
            )
        if len(lines) > 1:
            blocks.append(kit.section("\n".join(lines)))

    if shown_hosts < failed:
        blocks.append(
            kit.context(
                f"Listed {shown_hosts} of {failed} failed hosts; +{failed - shown_hosts} more "
                "are in the full report (*All failed hosts*)."
            )
        )
    return blocks
