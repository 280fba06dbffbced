"""What the bot remembers about acting on executions: the audit log, the exactly-once ledger
and two-person requests, as plain records.

Core types with no I/O (like ``records``): the store persists them, the Slack side and the
terminal show them. ``aom_bot.store.base`` re-exports them.

Three tables, three jobs:

* the **audit log** (``AuditEntry``) is append-only: every attempted action and every
  refusal, kept for people to read (``aom-bot audit``). Nothing updates or deletes a row.
* the **action ledger** (``ActionRecord``) makes an action happen once: the first caller to
  claim a key sends the AOM request; everyone else (a double click, a second replica, Slack
  retrying the interaction) learns what became of it.
* **approvals** (``ApprovalRequest``) hold a two-person request until a second person
  approves, someone cancels, or it expires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "DETAIL_MAX_CHARS",
    "FINAL_OUTCOMES",
    "ActionClaim",
    "ActionKind",
    "ActionOutcome",
    "ActionRecord",
    "ApprovalDecision",
    "ApprovalReason",
    "ApprovalRequest",
    "ApprovalState",
    "AuditEntry",
    "NewAuditEntry",
]

#: an audit entry's ``detail`` is cut to this many characters: a reason, not a transcript
DETAIL_MAX_CHARS = 500


class ActionKind(StrEnum):
    """What a person asks the bot to do to an execution (the permission names of the policy)."""

    TERMINATE = "terminate"
    RETRY = "retry"
    SKIP = "skip"
    CONTINUE = "continue"
    RUN = "run"


class ActionOutcome(StrEnum):
    """How an attempted action ended, as the audit log and the ledger record it.

    All are final except ``REQUESTED``: a two-person request waiting for a second person
    (an audit entry only; a ledger row in flight has no outcome yet).
    """

    DONE = "done"  # AOM accepted the request
    DENIED = "denied"  # refused before anything reached AOM (policy, own approval…)
    FAILED = "failed"  # AOM answered with an error
    UNKNOWN = "unknown"  # no answer (timeout, crash): maybe done; never retried blindly
    EXPIRED = "expired"  # a two-person request nobody approved in time
    CANCELLED = "cancelled"  # a two-person request someone cancelled
    REQUESTED = "requested"  # a two-person request was posted; not final

    @property
    def is_final(self) -> bool:
        """True for every outcome but ``REQUESTED``."""
        return self is not ActionOutcome.REQUESTED


#: the outcomes a ledger row may end with
FINAL_OUTCOMES = frozenset(outcome for outcome in ActionOutcome if outcome.is_final)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAuditEntry:
    """One attempted action or refusal, to append to the audit log.

    IDs and a short reason only: ``detail`` must never hold a secret (callers pass text
    already scrubbed); it is cut to ``DETAIL_MAX_CHARS``.
    """

    at: datetime
    user_id: str
    user_name: str
    channel_id: str
    profile: str
    action: ActionKind
    workflow_id: str
    #: ``None`` for ``run`` (no execution yet): the new one is ``result_execution_id``
    execution_id: str | None
    node_id: str | None
    outcome: ActionOutcome
    #: the request id AOM answered with (its ``X-Request-Id``), when a request was sent
    aom_request_id: str | None = None
    detail: str = ""
    #: the execution ``run`` started
    result_execution_id: str | None = None

    def __post_init__(self) -> None:
        if len(self.detail) > DETAIL_MAX_CHARS:
            object.__setattr__(self, "detail", self.detail[: DETAIL_MAX_CHARS - 1] + "…")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry(NewAuditEntry):
    """A stored audit entry; ``id`` grows with each append."""

    id: int = field(kw_only=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRecord:
    """One row of the exactly-once ledger: an action claimed under ``key``, and its end."""

    key: str
    kind: ActionKind
    profile: str
    workflow_id: str
    execution_id: str | None
    node_id: str | None
    #: Slack user id (and display name) of whoever asked, for the audit of a crashed action
    requested_by: str
    user_name: str
    channel_id: str
    claimed_at: datetime
    #: ``None`` while in flight (claimed, no answer recorded yet)
    outcome: ActionOutcome | None
    finished_at: datetime | None
    aom_request_id: str | None
    result_execution_id: str | None

    @property
    def in_flight(self) -> bool:
        """Claimed and not finished: its AOM request may or may not have been sent."""
        return self.outcome is None


@dataclass(frozen=True, slots=True)
class ActionClaim:
    """The answer to ``claim_action``: whether this caller won, and the row as it stands."""

    won: bool
    action: ActionRecord


class ApprovalState(StrEnum):
    """Where a two-person request stands: requested → approved | cancelled | expired."""

    REQUESTED = "requested"
    APPROVED = "approved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ApprovalReason(StrEnum):
    """Why ``decide_approval`` answered as it did; only the first two changed anything."""

    APPROVED = "approved"  # this call approved it: perform the action now
    CANCELLED = "cancelled"  # this call cancelled it
    OWN_REQUEST = "own_request"  # the requester tried to approve their own request
    EXPIRED = "expired"  # too late: the request expired
    ALREADY_DECIDED = "already_decided"  # someone else approved or cancelled it first
    UNKNOWN = "unknown"  # no request under this key


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequest:
    """A two-person request: who asked for what, where it was posted, and how it ended."""

    key: str
    kind: ActionKind
    profile: str
    workflow_id: str
    execution_id: str | None
    node_id: str | None
    requested_by: str
    user_name: str
    channel_id: str
    #: the Slack message asking for a second person (``None`` until it is posted)
    message_ts: str | None
    requested_at: datetime
    expires_at: datetime
    state: ApprovalState
    decided_by: str | None
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """The answer to ``decide_approval``: why, and the request as it now stands (``None``
    only for ``UNKNOWN``)."""

    reason: ApprovalReason
    request: ApprovalRequest | None

    @property
    def won(self) -> bool:
        """True when this call decided the request (approved or cancelled it)."""
        return self.reason in (ApprovalReason.APPROVED, ApprovalReason.CANCELLED)
