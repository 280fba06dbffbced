"""One audit entry as one structured log line: what log search and alerting read.

::

    action.audit action=terminate outcome=done user=U012AB user_name="Ada Lovelace" channel=C01
    profile=prod workflow=wf-1 execution=e3f0… node=- aom_request_id=req-9

(one line). IDs only, never ``detail``: it is for people reading ``aom-bot audit``, and the
log is for machines. A value that is not a plain ID (a user's display name, or anything odd)
is quoted with every quote, backslash and unprintable character escaped, so no name can end the
line or forge another field. Pure: no I/O.
"""

from __future__ import annotations

import re

from aom_bot.action_records import NewAuditEntry

__all__ = ["audit_log_line", "log_value"]

#: what a value may look like to go unquoted (Slack, AOM and profile IDs do)
_PLAIN = re.compile(r"[A-Za-z0-9._:/@+-]+")
#: a display name is cut to this many characters in the log
_NAME_MAX_CHARS = 80


def log_value(value: str | None) -> str:
    """``value`` safe for a ``key=value`` log line: ``-`` when missing, bare when a plain ID,
    else in double quotes with ``"``, ``\\`` and unprintable characters escaped."""
    if value is None or value == "":
        return "-"
    if _PLAIN.fullmatch(value) and value != "-":
        return value
    return '"' + "".join(_escaped(ch) for ch in value) + '"'


def _escaped(ch: str) -> str:
    if ch in '"\\':
        return "\\" + ch
    if ch.isprintable():
        return ch
    return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"


def audit_log_line(entry: NewAuditEntry) -> str:
    """The entry as ``action.audit key=value …`` on one line (IDs only; the name quoted)."""
    name = entry.user_name
    if len(name) > _NAME_MAX_CHARS:
        name = name[: _NAME_MAX_CHARS - 1] + "…"
    fields = [
        ("action", entry.action.value),
        ("outcome", entry.outcome.value),
        ("user", entry.user_id),
        ("user_name", name),
        ("channel", entry.channel_id),
        ("profile", entry.profile),
        ("workflow", entry.workflow_id),
        ("execution", entry.execution_id),
        ("node", entry.node_id),
        ("aom_request_id", entry.aom_request_id),
    ]
    if entry.result_execution_id is not None:
        fields.append(("result_execution", entry.result_execution_id))
    return "action.audit " + " ".join(f"{key}={log_value(value)}" for key, value in fields)
