"""The action queries both engines run with the same SQL: audit log, ledger, approvals.

Who wins is decided by the database, never by reading first and writing after: a claim is
``INSERT … ON CONFLICT DO NOTHING`` on the key, a decision is ``UPDATE … WHERE state =
'requested'``; PostgreSQL's row locks and SQLite's ``BEGIN IMMEDIATE`` make racing callers
(replicas, retries, double clicks) wait for the first and then find nothing left to take.
Sweeps (``mark_unknown``, ``expire_approvals``) lock the rows they read, so each row is
returned to one sweeper only. Rows: ``action_rows``.
"""

from __future__ import annotations

from datetime import datetime

from aom_bot.store.action_rows import (
    ACTION_COLUMNS,
    APPROVAL_COLUMNS,
    AUDIT_COLUMNS,
    action_from_row,
    approval_from_row,
    audit_from_row,
)
from aom_bot.store.base import (
    ActionClaim,
    ActionKind,
    ActionOutcome,
    ActionRecord,
    ApprovalDecision,
    ApprovalReason,
    ApprovalRequest,
    ApprovalState,
    AuditEntry,
    NewAuditEntry,
)
from aom_bot.store.shared_base import SqlBase, Tx

__all__ = ["ActionQueries"]


class ActionQueries(SqlBase):
    """The shared ``Store`` methods on actions: audit log, exactly-once ledger, approvals."""

    # -- audit log (append-only: no update or delete, and ``prune`` leaves it alone) ---------

    async def append_audit(self, entry: NewAuditEntry) -> AuditEntry:
        """Append one entry; returns it with its id."""
        values = (
            self._dialect.time(entry.at),
            entry.user_id,
            entry.user_name,
            entry.channel_id,
            entry.profile,
            entry.action.value,
            entry.workflow_id,
            entry.execution_id,
            entry.node_id,
            entry.outcome.value,
            entry.aom_request_id,
            entry.detail,
            entry.result_execution_id,
        )
        async with self._transaction() as tx:
            await tx.count(
                f"INSERT INTO audit_log ({AUDIT_COLUMNS.removeprefix('id, ')})"  # noqa: S608 - constant fragments
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            rows = await tx.fetch(
                f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE id = {self._dialect.last_id}"  # noqa: S608 - constant fragments
            )
        return audit_from_row(rows[0], self._dialect.read_time)

    async def audit_entries(
        self, *, since: datetime | None = None, limit: int | None = 1000
    ) -> list[AuditEntry]:
        """Entries at or after ``since`` (all without it), newest first, at most ``limit``
        (``None``: all of them)."""
        where, params = (
            ("", []) if since is None else ("WHERE at >= ?", [self._dialect.time(since)])
        )
        if limit is not None:
            params.append(max(limit, 0))
        rows = await self._fetch(
            f"SELECT {AUDIT_COLUMNS} FROM audit_log {where}"  # noqa: S608 - constant fragments
            f" ORDER BY at DESC, id DESC{'' if limit is None else ' LIMIT ?'}",
            *params,
        )
        return [audit_from_row(row, self._dialect.read_time) for row in rows]

    # -- exactly-once ledger -----------------------------------------------------------------

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
        """Claim ``key``: ``won`` for the first caller only, ever; everyone gets the row."""
        values = (key, kind.value, profile, workflow_id, execution_id, node_id)
        who = (requested_by, user_name, channel_id, self._dialect.time(now))
        async with self._transaction() as tx:
            won = await tx.count(
                "INSERT INTO actions (key, kind, profile, workflow_id, execution_id, node_id,"
                " requested_by, user_name, channel_id, claimed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (*values, *who),
            )
            found = await self._actions(tx, "WHERE key = ?", key)
        return ActionClaim(won=won > 0, action=found[0])

    async def finish_action(
        self,
        key: str,
        outcome: ActionOutcome,
        *,
        aom_request_id: str | None = None,
        result_execution_id: str | None = None,
        now: datetime,
    ) -> bool:
        """Record how the claimed action ended; ``True`` if this call recorded it.

        A final outcome is set once: a second finish changes nothing. The one exception is
        ``unknown`` (a sweep after a crash, or a timeout): a definite answer that arrives
        later replaces it, because it is what happened.
        """
        if not outcome.is_final:
            raise ValueError(f"an action cannot finish as {outcome.value!r}")
        return await self._changed(
            "UPDATE actions SET outcome = ?, finished_at = ?,"
            " aom_request_id = COALESCE(?, aom_request_id),"
            " result_execution_id = COALESCE(?, result_execution_id)"
            " WHERE key = ? AND (outcome IS NULL OR (outcome = 'unknown' AND ? <> 'unknown'))",
            outcome.value,
            self._dialect.time(now),
            aom_request_id,
            result_execution_id,
            key,
            outcome.value,
        )

    async def get_action(self, key: str) -> ActionRecord | None:
        """The ledger row of ``key``, or ``None`` if nobody claimed it."""
        async with self._statement() as tx:
            found = await self._actions(tx, "WHERE key = ?", key)
        return found[0] if found else None

    async def unfinished_actions(self, before: datetime) -> list[ActionRecord]:
        """Actions claimed before ``before`` and never finished, oldest first."""
        async with self._statement() as tx:
            return await self._actions(
                tx,
                "WHERE outcome IS NULL AND claimed_at < ? ORDER BY claimed_at, key",
                self._dialect.time(before),
            )

    async def mark_unknown(self, before: datetime, *, now: datetime) -> list[ActionRecord]:
        """Give every action claimed before ``before`` and still unfinished the outcome
        ``unknown`` (its process died mid-request: never retried); returns the rows this
        call marked, so each is audited once however many replicas sweep."""
        async with self._transaction() as tx:
            stale = await self._actions(
                tx,
                f"WHERE outcome IS NULL AND claimed_at < ? ORDER BY key {self._dialect.lock_rows}",
                self._dialect.time(before),
            )
            keys = self._dialect.keys([action.key for action in stale])
            await tx.count(
                "UPDATE actions SET outcome = 'unknown', finished_at = ?"  # noqa: S608
                f" WHERE outcome IS NULL AND key IN (SELECT value FROM {self._dialect.each})",
                (self._dialect.time(now), keys),
            )
            return await self._actions(
                tx,
                f"WHERE key IN (SELECT value FROM {self._dialect.each})"  # noqa: S608
                " ORDER BY claimed_at, key",
                keys,
            )

    async def _actions(self, tx: Tx, where: str, *params: object) -> list[ActionRecord]:
        # ``where`` is always a literal from this module; values travel as parameters
        rows = await tx.fetch(f"SELECT {ACTION_COLUMNS} FROM actions {where}", params)  # noqa: S608
        return [action_from_row(row, self._dialect.read_time) for row in rows]

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
        """Open a two-person request under ``key``; flag ``True`` if this call opened it (a
        repeated first click gets the existing request back)."""
        time = self._dialect.time
        values = (key, kind.value, profile, workflow_id, execution_id, node_id, requested_by)
        where = (user_name, channel_id, message_ts, time(now), time(expires_at))
        async with self._transaction() as tx:
            created = await tx.count(
                "INSERT INTO approvals (key, kind, profile, workflow_id, execution_id, node_id,"
                " requested_by, user_name, channel_id, message_ts, requested_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (*values, *where),
            )
            found = await self._approvals(tx, "WHERE key = ?", key)
        return found[0], created > 0

    async def set_approval_message(self, key: str, message_ts: str) -> None:
        """Record the ``ts`` of the message that asks for a second person."""
        await self._changed("UPDATE approvals SET message_ts = ? WHERE key = ?", message_ts, key)

    async def get_approval(self, key: str) -> ApprovalRequest | None:
        """The two-person request under ``key``, or ``None``."""
        async with self._statement() as tx:
            found = await self._approvals(tx, "WHERE key = ?", key)
        return found[0] if found else None

    async def decide_approval(
        self, key: str, *, approver: str, now: datetime, approve: bool
    ) -> ApprovalDecision:
        """Approve or cancel a request; only the first decision wins, the requester may
        cancel but never approve, and an expired request takes no decision."""
        state = ApprovalState.APPROVED if approve else ApprovalState.CANCELLED
        not_own = " AND requested_by <> ?" if approve else ""
        params = (state.value, approver, self._dialect.time(now), key, self._dialect.time(now))
        async with self._transaction() as tx:
            won = await tx.count(
                "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?"  # noqa: S608 - constant fragments
                f" WHERE key = ? AND state = 'requested' AND expires_at > ?{not_own}",
                (*params, approver) if approve else params,
            )
            found = await self._approvals(tx, "WHERE key = ?", key)
        if not found:
            return ApprovalDecision(ApprovalReason.UNKNOWN, None)
        request = found[0]
        if won:
            return ApprovalDecision(ApprovalReason(state.value), request)
        return ApprovalDecision(_why_not(request, approver, now), request)

    async def expire_approvals(self, now: datetime) -> list[ApprovalRequest]:
        """Expire every request still open at its ``expires_at``; returns those this call
        expired (each to one caller only), so each message is updated once."""
        time = self._dialect.time
        async with self._transaction() as tx:
            due = await self._approvals(
                tx,
                "WHERE state = 'requested' AND expires_at <= ?"
                f" ORDER BY expires_at, key {self._dialect.lock_rows}",
                time(now),
            )
            keys = self._dialect.keys([request.key for request in due])
            await tx.count(
                "UPDATE approvals SET state = 'expired', decided_at = ?"  # noqa: S608
                f" WHERE state = 'requested' AND key IN (SELECT value FROM {self._dialect.each})",
                (time(now), keys),
            )
            return await self._approvals(
                tx,
                f"WHERE key IN (SELECT value FROM {self._dialect.each})"  # noqa: S608
                " ORDER BY expires_at, key",
                keys,
            )

    async def _approvals(self, tx: Tx, where: str, *params: object) -> list[ApprovalRequest]:
        # ``where`` is always a literal from this module; values travel as parameters
        sql = f"SELECT {APPROVAL_COLUMNS} FROM approvals {where}"  # noqa: S608
        return [
            approval_from_row(row, self._dialect.read_time) for row in await tx.fetch(sql, params)
        ]


def _why_not(request: ApprovalRequest, approver: str, now: datetime) -> ApprovalReason:
    """Why a decision on ``request`` changed nothing."""
    if request.state is ApprovalState.EXPIRED or (
        request.state is ApprovalState.REQUESTED and request.expires_at <= now
    ):
        return ApprovalReason.EXPIRED
    if request.state is not ApprovalState.REQUESTED:
        return ApprovalReason.ALREADY_DECIDED
    if request.requested_by == approver:
        return ApprovalReason.OWN_REQUEST
    return ApprovalReason.ALREADY_DECIDED  # pragma: no cover - the UPDATE would have matched
