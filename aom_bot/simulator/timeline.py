"""Where a run stands at a given moment: a pure function of its plan, its actions and the time.

Nothing here keeps state, so asking twice for the same moment gives the same answer, and asking for
an earlier moment after a later one is fine. All times are epoch milliseconds on the world's clock;
plan times (scenario ms) are divided by the run's speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from aom_bot.simulator.plans import AttemptOutcome, ExecutionPlan, HostRun, NodeKind, NodeSpec

__all__ = ["CANCEL_DELAY_MS", "RESTART_STAGGER_MS", "Action", "Bucket", "HostState",
           "NodeState", "OpKind", "Snapshot", "replay"]  # fmt: skip

#: scenario ms between a terminate request and the run showing ``cancel``
CANCEL_DELAY_MS = 2000
#: scenario ms between two restarted hosts starting again
RESTART_STAGGER_MS = 200

TERMINAL = frozenset({"success", "fail", "cancel"})


class OpKind(StrEnum):
    """What a person (or the plan) did to a run."""

    TERMINATE = "terminate"
    RESTART = "restart"
    SKIP = "skip"
    CONTINUE = "continue"


class Bucket(StrEnum):
    """The host buckets of a script node's ``output``."""

    SUCCESS = "success"
    FAIL = "fail"
    IN_EXECUTION = "in_execution"
    NOT_PERFORMED = "not_performed"


@dataclass(frozen=True, slots=True)
class Action:
    """An accepted intervention, at a moment of the world clock."""

    at_ms: int
    kind: OpKind
    node_id: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True)
class HostState:
    """One host at the moment asked about; ``outcome`` is set once it ended."""

    run: HostRun
    bucket: Bucket
    start_ms: int | None = None
    end_ms: int | None = None
    outcome: AttemptOutcome | None = None
    canceled: bool = False


@dataclass(slots=True)
class NodeState:
    """One node reached so far."""

    spec: NodeSpec
    begin_ms: int
    status: str
    end_ms: int | None = None
    hosts: list[HostState] = field(default_factory=list)
    message: str = ""


@dataclass(slots=True)
class Snapshot:
    """A run at one moment, plus what the caches and the action checks need."""

    status: str
    nodes: list[NodeState]
    end_ms: int | None
    last_change_ms: int
    next_change_ms: float
    waiting_node: str | None = None
    failed_node: str | None = None

    @property
    def terminal(self) -> bool:
        """True once nothing will change without an action."""
        return self.status in TERMINAL


class _Clock:
    """Tracks the last transition at or before ``now`` and the first one after it."""

    def __init__(self, now: int, begin: int) -> None:
        self.now = now
        self.last = begin
        self.next: float = math.inf

    def mark(self, moment: int) -> None:
        if moment <= self.now:
            self.last = max(self.last, moment)
        else:
            self.next = min(self.next, moment)


def _first(actions: list[Action], kinds: set[OpKind], node_id: str, after: int) -> Action | None:
    for action in actions:
        if action.kind in kinds and action.node_id == node_id and action.at_ms >= after:
            return action
    return None


def _host_at(run: HostRun, start: int, end: int, outcome: AttemptOutcome, now: int) -> HostState:
    if now < start:
        return HostState(run, Bucket.NOT_PERFORMED)
    if now < end:
        return HostState(run, Bucket.IN_EXECUTION, start)
    bucket = Bucket.SUCCESS if outcome.ok else Bucket.FAIL
    return HostState(run, bucket, start, end, outcome)


class _Walk:
    """One replay of a plan up to ``now`` (the body of :func:`replay`)."""

    def __init__(self, plan: ExecutionPlan, begin: int, speed: float, actions: list[Action],
                 now: int) -> None:  # fmt: skip
        self.plan = plan
        self.speed = speed
        self.actions = [a for a in actions if a.at_ms <= now]
        self.now = now
        self.clock = _Clock(now, begin)
        self.begin = begin
        for action in actions:
            if action.at_ms > now:
                # an action "from the future" (the clock was set back) is a change still to come
                self.clock.mark(action.at_ms)

    def scale(self, ms: int) -> int:
        return round(ms / self.speed)

    def run(self) -> Snapshot:
        cursor = self.begin + self.scale(self.plan.queue_ms)
        self.clock.mark(cursor)
        nodes: list[NodeState] = []
        if self.now < cursor:
            return self._snap("waitExecute", nodes)
        any_failed = False
        for spec in self.plan.nodes:
            if spec.kind is NodeKind.SCRIPT:
                outcome = self._script(spec, cursor, nodes)
                if isinstance(outcome, Snapshot):
                    return outcome
                cursor, failed = outcome
                any_failed = any_failed or failed
                continue
            waiting = "waitApproval" if spec.kind is NodeKind.APPROVAL else "pausing"
            go = _first(self.actions, {OpKind.CONTINUE}, spec.node_id, cursor)
            if go is None:
                nodes.append(NodeState(spec, cursor, waiting, message=spec.message))
                return self._snap(waiting, nodes, waiting_node=spec.node_id)
            self.clock.mark(go.at_ms)
            done = f"approved by {go.by}" if spec.kind is NodeKind.APPROVAL else "continued"
            nodes.append(NodeState(spec, cursor, "success", go.at_ms, message=done))
            cursor = go.at_ms
        return self._snap("fail" if any_failed else "success", nodes, end=cursor)

    def _script(
        self, spec: NodeSpec, begin: int, nodes: list[NodeState]
    ) -> Snapshot | tuple[int, bool]:
        """Run one script node; a Snapshot when the run stops inside it, else (end, failed)."""
        node = NodeState(spec, begin, "executing")
        nodes.append(node)
        timing = {}
        for index, run in enumerate(spec.hosts):
            start = begin + self.scale(run.start_ms)
            timing[index] = (start, start + self.scale(run.duration_ms), run.outcome)
        while True:
            for start, end, _ in timing.values():
                self.clock.mark(start)
                self.clock.mark(end)
            node.hosts = [_host_at(run, *timing[i], self.now) for i, run in enumerate(spec.hosts)]
            end = max((t[1] for t in timing.values()), default=begin)
            if self.now < end:
                return self._snap("executing", nodes)
            node.end_ms = end
            failed = [i for i, (_, _, outcome) in timing.items() if not outcome.ok]
            if not failed:
                node.status = spec.reported_status or "success"
                return end, False
            node.status = spec.reported_status or "fail"
            if spec.continue_on_failure:
                return end, True
            act = _first(self.actions, {OpKind.RESTART, OpKind.SKIP}, spec.node_id, end)
            if act is None:
                return self._snap("fail", nodes, end=end, failed_node=spec.node_id)
            self.clock.mark(act.at_ms)
            if act.kind is OpKind.SKIP:
                return act.at_ms, False
            node.status = "executing"
            node.end_ms = None
            for k, i in enumerate(failed):
                run = spec.hosts[i]
                start = act.at_ms + self.scale(k * RESTART_STAGGER_MS)
                timing[i] = (start, start + self.scale(run.duration_ms), run.retry)
            # later restarts only count after this attempt has ended
            self.actions = [a for a in self.actions if a is not act]

    def _snap(self, status: str, nodes: list[NodeState], *, end: int | None = None,
              waiting_node: str | None = None, failed_node: str | None = None) -> Snapshot:  # fmt: skip
        return Snapshot(status, nodes, end, self.clock.last, self.clock.next, waiting_node,
                        failed_node)  # fmt: skip


def _cancel(snap: Snapshot, at: int, done: int, now: int) -> Snapshot:
    """Freeze the run as it was at ``at``; from ``done`` on, it reads ``cancel``."""
    if now < done:
        snap.status = "canceling"
        snap.last_change_ms = max(snap.last_change_ms, at)
        snap.next_change_ms = done
        snap.waiting_node = None
        return snap
    for node in snap.nodes:
        if node.end_ms is None:
            node.status = "cancel"
            node.end_ms = done
            node.hosts = [
                HostState(h.run, Bucket.FAIL, h.start_ms, done, None, canceled=True)
                if h.bucket is Bucket.IN_EXECUTION
                else h
                for h in node.hosts
            ]
    return Snapshot("cancel", snap.nodes, done, done, math.inf)


def replay(plan: ExecutionPlan, *, begin_ms: int, speed: float, actions: list[Action],
           now_ms: int) -> Snapshot:  # fmt: skip
    """The state of a run at ``now_ms``. ``actions`` must be in the order they were accepted."""
    stop = next((a for a in actions if a.kind is OpKind.TERMINATE), None)
    stop_at = stop.at_ms if stop else None
    if plan.terminate_after_ms is not None:
        auto = begin_ms + round(plan.terminate_after_ms / speed)
        stop_at = auto if stop_at is None else min(stop_at, auto)
    if stop_at is None or now_ms < stop_at:
        snap = _Walk(plan, begin_ms, speed, actions, now_ms).run()
        if stop_at is not None and not snap.terminal:
            snap.next_change_ms = min(snap.next_change_ms, stop_at)
        return snap
    frozen = _Walk(plan, begin_ms, speed, actions, stop_at).run()
    if frozen.terminal:
        # a terminate that arrived after the end changes nothing
        return _Walk(plan, begin_ms, speed, actions, now_ms).run()
    return _cancel(frozen, stop_at, stop_at + round(CANCEL_DELAY_MS / speed), now_ms)
