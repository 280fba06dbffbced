"""The store's contract for acting on executions: ``ActionStore``, part of ``Store``.

Its own protocol so code that only acts on executions (the Slack action handlers, the audit
command) can ask for just this. Records: ``aom_bot.action_records``. Every time is an aware
datetime the caller passes in; the store reads no clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from aom_bot.action_records import (
    ActionClaim,
    ActionKind,
    ActionOutcome,
    ActionRecord,
    ApprovalDecision,
    ApprovalRequest,
    AuditEntry,
    NewAuditEntry,
)

__all__ = ["ActionStore"]


class ActionStore(Protocol):
    """The audit log (append-only), the exactly-once action ledger and two-person requests.

    None of it is pruned: the audit log is kept for people, and a pruned ledger key could be
    claimed a second time.
    """

    # -- audit log (append-only) -------------------------------------------------------------

    async def append_audit(self, entry: NewAuditEntry) -> AuditEntry:
        """Append one entry and return it with its id. There is no way to change or delete
        an entry: the log is append-only."""
        ...

    async def audit_entries(
        self, *, since: datetime | None = None, limit: int | None = 1000
    ) -> list[AuditEntry]:
        """Entries at or after ``since`` (all without it), newest first, at most ``limit``
        (``None``: all of them)."""
        ...

    # -- exactly-once actions ----------------------------------------------------------------

    async def claim_action(
        self,
        key: str,
        *,
        kind: ActionKind,
        profile: str,
        workflow_id: str,
        execution_id: str | None,
        node_id: str | None,
        requested_by: str,
        user_name: str = "",
        channel_id: str = "",
        now: datetime,
    ) -> ActionClaim:
        """Claim the action under ``key``: ``won`` is ``True`` for the first caller only, ever
        (later claims of the key lose, also after it finished); every caller gets the row.
        Only the winner sends the AOM request."""
        ...

    async def finish_action(
        self,
        key: str,
        outcome: ActionOutcome,
        *,
        aom_request_id: str | None = None,
        result_execution_id: str | None = None,
        now: datetime,
    ) -> bool:
        """Record how a claimed action ended; ``True`` if this call recorded it. A final
        outcome is set once; only ``unknown`` gives way to a definite answer arriving later."""
        ...

    async def get_action(self, key: str) -> ActionRecord | None:
        """The ledger row of ``key``, or ``None`` if nobody claimed it."""
        ...

    async def unfinished_actions(self, before: datetime) -> list[ActionRecord]:
        """Actions claimed before ``before`` and never finished, oldest first."""
        ...

    async def mark_unknown(self, before: datetime, *, now: datetime) -> list[ActionRecord]:
        """Set ``unknown`` on every action claimed before ``before`` and never finished (its
        process died mid-request; it is never retried). Returns the rows this call marked:
        each to one caller only, so each is audited once."""
        ...

    # -- two-person requests -----------------------------------------------------------------

    async def open_approval(
        self,
        key: str,
        *,
        kind: ActionKind,
        profile: str,
        workflow_id: str,
        execution_id: str | None,
        node_id: str | None,
        requested_by: str,
        user_name: str = "",
        channel_id: str,
        message_ts: str | None = None,
        expires_at: datetime,
        now: datetime,
    ) -> tuple[ApprovalRequest, bool]:
        """Open a two-person request under ``key``; the flag is ``True`` if this call opened
        it (a repeated click gets the existing request back unchanged)."""
        ...

    async def set_approval_message(self, key: str, message_ts: str) -> None:
        """Record the ``ts`` of the message asking for a second person."""
        ...

    async def get_approval(self, key: str) -> ApprovalRequest | None:
        """The two-person request under ``key``, or ``None``."""
        ...

    async def decide_approval(
        self, key: str, *, approver: str, now: datetime, approve: bool
    ) -> ApprovalDecision:
        """Approve (``approve=True``) or cancel a request, atomically: one decision wins.

        The requester's own approval is refused (``own_request``; they may cancel); a request
        past ``expires_at`` takes no decision (``expired``); a decided one answers
        ``already_decided``; a missing key ``unknown``.
        """
        ...

    async def expire_approvals(self, now: datetime) -> list[ApprovalRequest]:
        """Expire the requests still open at their ``expires_at``; returns those this call
        expired (each to one caller only, so each message is updated once)."""
        ...
