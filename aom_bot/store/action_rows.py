"""Rows of the action tables as records (``aom_bot.action_records``), for both engines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aom_bot.errors import StoreError
from aom_bot.store._common import Row, stored_enum
from aom_bot.store.base import (
    ActionKind,
    ActionOutcome,
    ActionRecord,
    ApprovalRequest,
    ApprovalState,
    AuditEntry,
)

__all__ = [
    "ACTION_COLUMNS",
    "APPROVAL_COLUMNS",
    "AUDIT_COLUMNS",
    "action_from_row",
    "approval_from_row",
    "audit_from_row",
]

#: the audit log's columns, ``id`` first (an INSERT lists the rest)
AUDIT_COLUMNS = (
    "id, at, user_id, user_name, channel_id, profile, action, workflow_id, execution_id, "
    "node_id, outcome, aom_request_id, detail, result_execution_id"
)
ACTION_COLUMNS = (
    "key, kind, profile, workflow_id, execution_id, node_id, requested_by, user_name, "
    "channel_id, claimed_at, outcome, finished_at, aom_request_id, result_execution_id"
)
APPROVAL_COLUMNS = (
    "key, kind, profile, workflow_id, execution_id, node_id, requested_by, user_name, "
    "channel_id, message_ts, requested_at, expires_at, state, decided_by, decided_at"
)

ReadTime = Callable[[Any], datetime | None]


def _required(row: Row, column: str, when: ReadTime, what: str) -> datetime:
    value = when(row[column])
    if value is None:
        raise StoreError(f"The store's {what} has no {column}.")
    return value


def audit_from_row(row: Row, when: ReadTime) -> AuditEntry:
    """Build an ``AuditEntry`` from a row of ``AUDIT_COLUMNS``."""
    return AuditEntry(
        id=int(row["id"]),
        at=_required(row, "at", when, f"audit entry {row['id']}"),
        user_id=row["user_id"],
        user_name=row["user_name"],
        channel_id=row["channel_id"],
        profile=row["profile"],
        action=stored_enum(ActionKind, row["action"]),
        workflow_id=row["workflow_id"],
        execution_id=row["execution_id"],
        node_id=row["node_id"],
        outcome=stored_enum(ActionOutcome, row["outcome"]),
        aom_request_id=row["aom_request_id"],
        detail=row["detail"],
        result_execution_id=row["result_execution_id"],
    )


def action_from_row(row: Row, when: ReadTime) -> ActionRecord:
    """Build an ``ActionRecord`` from a row of ``ACTION_COLUMNS``."""
    outcome = row["outcome"]
    return ActionRecord(
        key=row["key"],
        kind=stored_enum(ActionKind, row["kind"]),
        profile=row["profile"],
        workflow_id=row["workflow_id"],
        execution_id=row["execution_id"],
        node_id=row["node_id"],
        requested_by=row["requested_by"],
        user_name=row["user_name"],
        channel_id=row["channel_id"],
        claimed_at=_required(row, "claimed_at", when, f"action {row['key']!r}"),
        outcome=None if outcome is None else stored_enum(ActionOutcome, outcome),
        finished_at=when(row["finished_at"]),
        aom_request_id=row["aom_request_id"],
        result_execution_id=row["result_execution_id"],
    )


def approval_from_row(row: Row, when: ReadTime) -> ApprovalRequest:
    """Build an ``ApprovalRequest`` from a row of ``APPROVAL_COLUMNS``."""
    what = f"approval {row['key']!r}"
    return ApprovalRequest(
        key=row["key"],
        kind=stored_enum(ActionKind, row["kind"]),
        profile=row["profile"],
        workflow_id=row["workflow_id"],
        execution_id=row["execution_id"],
        node_id=row["node_id"],
        requested_by=row["requested_by"],
        user_name=row["user_name"],
        channel_id=row["channel_id"],
        message_ts=row["message_ts"],
        requested_at=_required(row, "requested_at", when, what),
        expires_at=_required(row, "expires_at", when, what),
        state=stored_enum(ApprovalState, row["state"]),
        decided_by=row["decided_by"],
        decided_at=when(row["decided_at"]),
    )
