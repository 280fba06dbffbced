"""The simulated AOM project: workflows and their executions, advancing on an injected clock.

The world never reads the wall clock: ``clock()`` (epoch seconds) is the only source of time, so
tests move time by hand and the same seed with the same times gives byte-identical JSON. Rendering
is cached per execution for as long as its state cannot change, which keeps a 2,000-host execution
cheap to poll.

>>> w = World(seed=1, clock=lambda: 1_710_000_000.0)
>>> wf = w.add_workflow("deploy-nginx", scenario="all-success")
>>> w.execution_json(wf, w.start_execution(wf))["status"]
'waitExecute'
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any, Literal

from aom_bot.errors import AomBotError, ConfigError
from aom_bot.simulator.ids import hex_id, uuid_id
from aom_bot.simulator.records import CachedSnapshot, ExecutionRecord, WorkflowRecord
from aom_bot.simulator.render import execution_json, workflow_json
from aom_bot.simulator.scenarios import (
    SCENARIOS,
    ExecutionPlan,
    get_scenario,
    history_plan,
)
from aom_bot.simulator.timeline import Action, OpKind, Snapshot, replay

__all__ = [
    "EpochClock",
    "NotFoundError",
    "RejectedError",
    "SimulatorError",
    "World",
    "dump_json",
    "scenario_names",
]

EpochClock = Callable[[], float]
"""Returns the current time as epoch seconds (``time.time`` in a demo, a fake in tests)."""

_DAY_MS = 86_400_000


class SimulatorError(AomBotError):
    """A request the simulated AOM refuses; the app turns it into an HTTP error."""


class NotFoundError(SimulatorError):
    """Unknown workflow or execution (HTTP 404); ``kind`` says which."""

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(f"{kind.capitalize()} {value!r} does not exist.")
        self.kind = kind


class RejectedError(SimulatorError):
    """An operation that does not fit the execution's state or a bad parameter (HTTP 400)."""


def scenario_names() -> list[str]:
    """The scenario names, in the default world's order."""
    return list(SCENARIOS)


def dump_json(value: object) -> bytes:
    """Compact UTF-8 JSON, the way AOM sends it (non-ASCII left as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class World:
    """Workflows and executions of one project; see the module docstring."""

    def __init__(self, *, seed: int, clock: EpochClock, speed: float = 1.0,
                 project_id: str | None = None) -> None:  # fmt: skip
        if not (speed > 0 and math.isfinite(speed)):
            raise ConfigError(f"Simulator speed must be a positive number, not {speed!r}.")
        self.seed = seed
        self.clock = clock
        self.speed = speed
        self.project_id = project_id or hex_id(seed, "project")
        self._workflows: dict[str, WorkflowRecord] = {}
        self._executions: dict[str, ExecutionRecord] = {}

    # -- time ---------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The world clock in epoch milliseconds."""
        return round(self.clock() * 1000)

    # -- building -----------------------------------------------------------------------------

    def add_workflow(self, name: str, *, scenario: str = "all-success",
                     description: str | None = None, host_count: int | None = None,
                     created_ms: int | None = None, workflow_id: str | None = None) -> str:  # fmt: skip
        """Add a workflow whose runs follow ``scenario``; returns its id (stable per seed+name)."""
        spec = get_scenario(scenario)
        wf_id = workflow_id or hex_id(self.seed, "workflow", scenario, name)
        if wf_id in self._workflows:
            raise ConfigError(f"Workflow id {wf_id} already exists in the simulator.")
        self._workflows[wf_id] = WorkflowRecord(
            id=wf_id, name=name, description=spec.description if description is None else description,
            scenario=spec, host_count=spec.host_count if host_count is None else host_count,
            created_ms=self.now_ms() - 30 * _DAY_MS if created_ms is None else created_ms,
            seq=len(self._workflows),
        )  # fmt: skip
        return wf_id

    def add_execution(self, workflow_id: str, *, begin_ms: int | None = None,
                      created_by: str = "ops_admin",
                      history: Literal["success", "fail"] | None = None) -> str:  # fmt: skip
        """Add a run (cheap: its plan is built on first use); ``history`` makes a plain past run."""
        wf = self._workflow(workflow_id)
        seq = len(wf.executions)
        ex_id = uuid_id(self.seed, "execution", wf.id, seq)
        rng_key = f"{self.seed}:{ex_id}"

        def build() -> ExecutionPlan:
            rng = random.Random(rng_key)
            if history is not None:
                return history_plan(wf.inventory, rng, ok=history == "success")
            return wf.scenario.plan(wf.inventory, rng)

        ex = ExecutionRecord(
            id=ex_id, workflow=wf, begin_ms=self.now_ms() if begin_ms is None else begin_ms,
            speed=1.0 if history else self.speed, created_by=created_by, build=build, seq=seq,
        )  # fmt: skip
        wf.executions.append(ex)
        self._executions[ex_id] = ex
        return ex_id

    def start_execution(self, workflow_id: str, created_by: str = "ops_admin") -> str:
        """What the execute endpoint does: a new run of the workflow's scenario, starting now."""
        return self.add_execution(workflow_id, created_by=created_by)

    # -- reading ------------------------------------------------------------------------------

    def workflow_ids(self) -> list[str]:
        """Workflow ids in creation order."""
        return list(self._workflows)

    def workflow_id_by_name(self, name: str) -> str:
        """The id of the first workflow called ``name``."""
        for wf in self._workflows.values():
            if wf.name == name:
                return wf.id
        raise NotFoundError("workflow", name)

    def execution_ids(self, workflow_id: str) -> list[str]:
        """Execution ids of a workflow, newest first (the list endpoint's order)."""
        return [ex.id for ex in self._newest_first(self._workflow(workflow_id))]

    def interventions(self, workflow_id: str, execution_id: str) -> list[tuple[str, str]]:
        """(action, node id) of every terminate / restart / skip / continue the run accepted,
        in order (tests check what reached AOM, query string included)."""
        ex = self._execution(workflow_id, execution_id)
        return [(action.kind.value, action.node_id) for action in ex.actions]

    def snapshot(self, workflow_id: str, execution_id: str) -> Snapshot:
        """The execution's state now (tests use it to look behind the JSON)."""
        return self._cached(self._execution(workflow_id, execution_id)).snap

    def execution_body(self, workflow_id: str, execution_id: str) -> bytes:
        """The ``…/status`` response body."""
        ex = self._execution(workflow_id, execution_id)
        entry = self._cached(ex)
        if entry.detail is None:
            entry.detail = dump_json(self._render(ex, entry.snap, with_creator=False))
        return entry.detail

    def execution_json(self, workflow_id: str, execution_id: str) -> dict[str, Any]:
        """The ``…/status`` response as a dict."""
        detail: dict[str, Any] = json.loads(self.execution_body(workflow_id, execution_id))
        return detail

    def executions_body(self, workflow_id: str) -> bytes:
        """The list-executions body: a bare array, newest first, each item with ``created_by``."""
        parts = []
        for ex in self._newest_first(self._workflow(workflow_id)):
            entry = self._cached(ex)
            if entry.item is None:
                entry.item = dump_json(self._render(ex, entry.snap, with_creator=True))
            parts.append(entry.item)
        return b"[" + b",".join(parts) + b"]"

    def workflow_page(self, *, search: str = "", page: int = 0, size: int = 10,
                      type_: str | None = None, status: str | None = None,
                      sort_field: str | None = None, sort_type: str = "DESC") -> dict[str, Any]:  # fmt: skip
        """The workflow-list body: ``{"elements": [...], "total_elements": n}`` (page is 0-based)."""
        needle = search.casefold()
        rows = [
            wf for wf in self._workflows.values()
            if not needle or needle in wf.name.casefold() or needle in wf.description.casefold()
        ]  # fmt: skip
        if type_:
            rows = [wf for wf in rows if type_ == "manual"]
        if sort_field:
            key = {
                "create_time": lambda wf: (wf.created_ms, wf.seq),
                "update_time": lambda wf: (wf.created_ms, wf.seq),
                "last_execution_start_time": lambda wf: (self._last_start(wf), wf.seq),
            }[sort_field]
            rows.sort(key=key, reverse=sort_type.upper() == "DESC")
        if status:
            rows = [wf for wf in rows if self._last_status(wf) == status]
        chosen = rows[page * size : (page + 1) * size]
        return {"elements": [self._workflow_json(wf) for wf in chosen], "total_elements": len(rows)}

    # -- acting -------------------------------------------------------------------------------

    def terminate(self, workflow_id: str, execution_id: str, by: str = "ops_admin") -> bool:
        """Stop a run; True when it was still running (a finished run is left alone)."""
        ex = self._execution(workflow_id, execution_id)
        snap = self._cached(ex).snap
        if snap.terminal or snap.status == "canceling":
            return False
        ex.actions.append(Action(self.now_ms(), OpKind.TERMINATE, by=by))
        return True

    def operate(self, workflow_id: str, execution_id: str, action: str, node_id: str,
                by: str = "ops_admin") -> None:  # fmt: skip
        """``restart`` / ``skip`` the failed node, or ``continue`` past a pause or approval."""
        ex = self._execution(workflow_id, execution_id)
        try:
            kind = OpKind(action)
        except ValueError:
            raise RejectedError(f"Unknown action {action!r}.") from None
        snap = self._cached(ex).snap
        if kind is OpKind.CONTINUE:
            if snap.waiting_node is None or snap.waiting_node != node_id:
                raise RejectedError(f"Node {node_id!r} is not waiting to continue.")
        elif kind in (OpKind.RESTART, OpKind.SKIP):
            if snap.failed_node is None or snap.failed_node != node_id:
                raise RejectedError(f"Node {node_id!r} has not failed.")
        else:
            raise RejectedError("terminate has its own endpoint.")
        ex.actions.append(Action(self.now_ms(), kind, node_id, by))

    # -- internals ----------------------------------------------------------------------------

    def _workflow(self, workflow_id: str) -> WorkflowRecord:
        try:
            return self._workflows[workflow_id]
        except KeyError:
            raise NotFoundError("workflow", workflow_id) from None

    def _execution(self, workflow_id: str, execution_id: str) -> ExecutionRecord:
        wf = self._workflow(workflow_id)
        ex = self._executions.get(execution_id)
        if ex is None or ex.workflow is not wf:
            raise NotFoundError("execution", execution_id)
        return ex

    @staticmethod
    def _newest_first(wf: WorkflowRecord) -> list[ExecutionRecord]:
        return sorted(wf.executions, key=lambda ex: (ex.begin_ms, ex.seq), reverse=True)

    def _cached(self, ex: ExecutionRecord) -> CachedSnapshot:
        now = self.now_ms()
        entry = ex.cache
        if (
            entry is not None
            and entry.actions == len(ex.actions)
            and entry.valid_from <= now < entry.valid_until
        ):
            return entry
        snap = replay(ex.plan, begin_ms=ex.begin_ms, speed=ex.speed, actions=ex.actions,
                      now_ms=now)  # fmt: skip
        # the state is constant from its last transition until its next one
        entry = CachedSnapshot(len(ex.actions), snap.last_change_ms, snap.next_change_ms, snap)
        ex.cache = entry
        return entry

    def _render(self, ex: ExecutionRecord, snap: Snapshot, *, with_creator: bool) -> dict[str, Any]:
        return execution_json(
            snap,
            workflow_id=ex.workflow.id,
            execution_id=ex.id,
            project_id=self.project_id,
            begin_ms=ex.begin_ms,
            approvers=ex.plan.approvers,
            edit_ms=ex.workflow.created_ms,
            node_ids={n.node_id: uuid_id(ex.id, "node", n.node_id) for n in ex.plan.nodes},
            snapshot_id=uuid_id(ex.id, "snapshot"),
            created_by=ex.created_by if with_creator else None,
        )

    def _last_status(self, wf: WorkflowRecord) -> str:
        latest = self._newest_first(wf)[0] if wf.executions else None
        return self._cached(latest).snap.status if latest else ""

    def _last_start(self, wf: WorkflowRecord) -> int:
        return max((ex.begin_ms for ex in wf.executions), default=0)

    def _workflow_json(self, wf: WorkflowRecord) -> dict[str, Any]:
        latest = self._newest_first(wf)[0] if wf.executions else None
        snap = self._cached(latest).snap if latest else None
        return workflow_json(wf, latest, snap, project_id=self.project_id)
