"""The audit log's outside forms: one structured log line per entry (what log search and
alerting read), the JSON record ``aom-bot audit --json`` prints, and its ``--since`` values.

::

    action.audit action=terminate outcome=done user=U012AB user_name="Ada Lovelace" channel=C01
    profile=prod workflow=wf-1 execution=e3f0… node=- aom_request_id=req-9

(one line). IDs only, never ``detail``: it is for people reading ``aom-bot audit``; the
log line is for machines. A value that is not a plain ID (a user's display name, or anything odd)
is quoted with every quote, backslash and unprintable character escaped, so no name can end the
line or forge another field. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aom_bot.action_records import NewAuditEntry

__all__ = ["AUDIT_JSON_FIELDS", "audit_log_line", "audit_record", "log_value", "parse_since"]

#: the fields of one ``aom-bot audit --json`` object, in order (a documented interface)
AUDIT_JSON_FIELDS = (
    "at",
    "user_id",
    "user_name",
    "channel_id",
    "profile",
    "action",
    "workflow_id",
    "execution_id",
    "node_id",
    "outcome",
    "aom_request_id",
    "detail",
    "result_execution_id",
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: the earliest ``--since``: every entry is newer
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"(\d{1,6})([smhdw])")

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


def audit_record(entry: NewAuditEntry) -> dict[str, str | None]:
    """The entry as ``aom-bot audit --json`` prints it: ``AUDIT_JSON_FIELDS``, the time in
    ISO 8601 UTC with a ``Z``."""
    at = entry.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    values: dict[str, str | None] = {
        "at": at,
        "user_id": entry.user_id,
        "user_name": entry.user_name,
        "channel_id": entry.channel_id,
        "profile": entry.profile,
        "action": entry.action.value,
        "workflow_id": entry.workflow_id,
        "execution_id": entry.execution_id,
        "node_id": entry.node_id,
        "outcome": entry.outcome.value,
        "aom_request_id": entry.aom_request_id,
        "detail": entry.detail,
        "result_execution_id": entry.result_execution_id,
    }
    return {name: values[name] for name in AUDIT_JSON_FIELDS}


def parse_since(text: str, *, now: datetime) -> datetime:
    """``--since``: a duration back from ``now`` (``30m``, ``24h``, ``7d``; also ``s`` and
    ``w``) or an ISO 8601 time (UTC unless it names an offset). ``ValueError`` says why not."""
    raw = text.strip()
    if match := _DURATION.fullmatch(raw.lower()):
        back = timedelta(**{_UNITS[match[2]]: int(match[1])})
        return now - back if now - _EPOCH > back else _EPOCH
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"--since {text!r} is neither a duration (30m, 24h, 7d) nor an ISO time "
            "(2025-03-01T14:00Z)."
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return max(moment, _EPOCH)  # nothing is older; and stores compare four-digit years
