"""Plain values for the follow engine's parts: stored follows, watches and their live follows.

The parts decide from these and return decisions (``aom_bot.follow.decisions``); no store, no
Slack and no AOM are needed to see what they decide.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aom_bot.aom.models import ExecutionDetail
from aom_bot.follow.state import Live, Watch
from aom_bot.records import CompletionState, Follow, FollowState
from aom_bot.render.analysis import visible_fingerprint
from tests.render.factories import execution, host, node

__all__ = ["EXECUTION", "T0", "WORKFLOW", "finished", "record", "running", "watch_of"]

T0 = datetime(2024, 3, 15, 8, 10, tzinfo=UTC)
WORKFLOW = "wf-1"
EXECUTION = "ex-1"


def record(follow_id: int, **overrides: Any) -> Follow:
    """An active follow as the store keeps it: card posted, shown, nothing announced."""
    fields: dict[str, Any] = {
        "id": follow_id,
        "workflow_id": WORKFLOW,
        "execution_id": EXECUTION,
        "channel_id": f"C{follow_id}",
        "message_ts": f"{follow_id}.000100",
        "started_by": "U1",
        "started_at": T0,
        "deadline": T0 + timedelta(hours=24),
        "subscription_id": None,
        "mention": "<@U1>",
        "state": FollowState.ACTIVE,
        "end_reason": None,
        "ended_at": None,
        "fingerprint": "shown-before",
        "rendered_at": T0,
        "unreachable_since": None,
        "announced": frozenset(),
        "completion_state": CompletionState.NONE,
        "completion_owner": None,
        "completion_claimed_at": None,
        "completion_ts": None,
    }
    fields.update(overrides)
    return Follow(**fields)


def watch_of(*records: Follow, seen: ExecutionDetail | None = None) -> tuple[Watch, list[Live]]:
    """A watch of ``records`` (one execution), with ``seen`` as its last poll's execution."""
    watch = Watch(WORKFLOW, EXECUTION)
    if seen is not None:
        watch.remember(seen, visible_fingerprint(seen), b"digest-before")
    lives = []
    for r in records:
        live = Live(
            follow=r,
            watch=watch,
            shown=r.fingerprint,
            rendered_at=r.rendered_at,
            unreachable_since=r.unreachable_since,
            announced=set(r.announced),
        )
        watch.follows[r.id] = live
        lives.append(live)
    return watch, lives


def running(*failures: str) -> ExecutionDetail:
    """A running execution whose failed hosts fail with the given errors (one host each)."""
    fails = [host(i, log=f"error: {text}", exit_code="1") for i, text in enumerate(failures)]
    return execution(node(status="executing", fail=fails), status="executing", ended=False)


def finished(*failures: str) -> ExecutionDetail:
    """The same execution, ended (failed when there are failures)."""
    fails = [host(i, log=f"error: {text}", exit_code="1") for i, text in enumerate(failures)]
    status = "fail" if failures else "success"
    return execution(node(status=status, fail=fails), status=status)
