"""What the follow engine keeps in memory, and what it reports.

A *watch* is one polled execution; a *live* follow is one channel's card of it. Several lives
share a watch, which is how two channels following one run cost one AOM request per poll.
"""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import zstandard

from aom_bot.aom.models import ExecutionDetail
from aom_bot.aom.replies import execution_in_body
from aom_bot.records import DEFAULT_PROFILE_NAME
from aom_bot.store.base import Follow

__all__ = ["FollowResult", "FollowStats", "Live", "Watch", "execution_key", "final_key"]

# zstd level 1: a 208 KB, 400-host body in 0.13 ms to 18 KB (zlib level 1: 0.61 ms, 25 KB), read
# back in 0.04 ms (zlib: 0.16). One pair per process: the engine packs on its event loop only.
_ZSTD = zstandard.ZstdCompressor(level=1)
_UNPACK = zstandard.ZstdDecompressor()


def _pack(data: bytes) -> bytes:
    """``data`` compressed, in bytes of its own size: zstandard's result sits in a buffer sized
    for the worst case (~the input), and kept as it is, 1,000 watches held ~10x their bytes
    of memory (measured: 210 MB of RSS for 18 MB of bodies; copied, 19 MB)."""
    return bytes(memoryview(_ZSTD.compress(data)))


@dataclass(frozen=True, slots=True)
class FollowResult:
    """What ``follow()`` did: ``created`` is False for a duplicate request."""

    follow_id: int
    created: bool
    message_ts: str | None
    #: the execution had already ended: final card and completion, no live following
    finished: bool


@dataclass(slots=True)
class FollowStats:
    """Counters for metrics and benchmarks."""

    active_follows: int = 0
    watched_executions: int = 0
    aom_requests: int = 0
    aom_errors: int = 0
    #: polls answered with the very body of the previous poll: not parsed, analysed or rendered
    unchanged_polls: int = 0
    visible_changes: int = 0
    updates_sent: int = 0
    heartbeats_sent: int = 0
    new_group_replies: int = 0
    completions_posted: int = 0
    completions_reconciled: int = 0
    slack_errors: int = 0
    ended: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True, eq=False)
class Live:
    """One follow in memory: the store record plus what its card shows and wants to show."""

    follow: Follow
    watch: Watch
    shown: str | None
    rendered_at: datetime | None
    wanted: str | None = None
    notice: str | None = None
    unreachable_since: datetime | None = None
    announced: set[str] = field(default_factory=set)
    in_flight: bool = False
    finishing: bool = False
    ended: bool = False
    #: we hold a completion claim whose post may or may not have reached Slack
    unsure_claim: bool = False
    #: since when the store has failed this card's edits (its card says so until it works)
    store_failing_since: datetime | None = None
    #: Slack keeps the card but refuses to edit it (edit window, permissions): no more edits,
    #: the thread replies and the completion still go out
    frozen: bool = False

    @property
    def id(self) -> int:
        return self.follow.id


@dataclass(slots=True, eq=False)
class Watch:
    """One polled execution and the follows that share its polls."""

    workflow_id: str
    execution_id: str
    #: the AOM profile polled (execution IDs are unique across projects, so it is not in the key)
    profile: str = DEFAULT_PROFILE_NAME
    follows: dict[int, Live] = field(default_factory=dict)
    #: the last execution seen, compressed: its body as AOM sent it (a poll's) or pickled (one
    #: read elsewhere), zstd-compressed. A parsed one is ~10x the size, and cards are rendered
    #: far less often than executions are polled: compressing the body costs a twentieth of
    #: pickling the model.
    packed: bytes | None = None
    #: ``packed`` holds a body (read again with the client's parser), not a pickle
    packed_body: bool = False
    #: ``visible_fingerprint`` of that execution
    fingerprint: str | None = None
    #: ``body_digest`` of the last body polled: an identical next body is not parsed
    digest: bytes | None = None
    begin_time: datetime | None = None
    due: float = 0.0
    queued: bool = False
    failures: int = 0
    done: bool = False

    @property
    def key(self) -> str:
        return execution_key(self.workflow_id, self.execution_id)

    def remember(
        self,
        execution: ExecutionDetail,
        fingerprint: str,
        digest: bytes | None = None,
        body: bytes | None = None,
    ) -> None:
        """Keep what ``execution`` shows for rendering — ``body``, the bytes it was read from,
        if polled (a poll's execution is lean: never kept itself) — and the digest of its body;
        repacked only when what it shows changed."""
        self.digest = digest
        if fingerprint != self.fingerprint or self.packed is None:
            if body is not None:
                self.packed, self.packed_body = _pack(body), True
            else:
                pickled = pickle.dumps(execution, pickle.HIGHEST_PROTOCOL)
                self.packed, self.packed_body = _pack(pickled), False
            self.fingerprint = fingerprint
        self.begin_time = execution.begin_time

    def last_execution(self) -> ExecutionDetail | None:
        """The execution last remembered, whole, or ``None`` before the first successful poll."""
        if self.packed is None:
            return None
        if self.packed_body:
            body = _UNPACK.decompress(self.packed)
            return execution_in_body(body, self.workflow_id, self.execution_id)
        # our own bytes, made in this process by remember(): never data from outside
        execution = pickle.loads(_UNPACK.decompress(self.packed))  # noqa: S301
        if not isinstance(execution, ExecutionDetail):  # pragma: no cover - cannot happen
            return None
        return execution


def execution_key(workflow_id: str, execution_id: str) -> str:
    """Lease and watch key of an execution."""
    return f"exec:{workflow_id}/{execution_id}"


def final_key(fingerprint: str) -> str:
    """What the store remembers once the final (not following) card is shown."""
    return f"final:{fingerprint}"
