"""The simulated project's records: workflows, their runs, and each run's cached snapshot."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aom_bot.simulator.plans import ExecutionPlan, HostSpec, Scenario, make_inventory
from aom_bot.simulator.timeline import Action, Snapshot

__all__ = ["CachedSnapshot", "ExecutionRecord", "WorkflowRecord"]


@dataclass(slots=True)
class CachedSnapshot:
    """An execution's snapshot (and its JSON once rendered), valid while nothing can change."""

    actions: int
    valid_from: int
    valid_until: float
    snap: Snapshot
    detail: bytes | None = None
    item: bytes | None = None


@dataclass(slots=True)
class ExecutionRecord:
    """One run: when it began, how fast it goes, what was done to it (its plan built on use)."""

    id: str
    workflow: WorkflowRecord
    begin_ms: int
    speed: float
    created_by: str
    build: Callable[[], ExecutionPlan]
    seq: int
    actions: list[Action] = field(default_factory=list)
    plan_: ExecutionPlan | None = None
    cache: CachedSnapshot | None = None

    @property
    def plan(self) -> ExecutionPlan:
        if self.plan_ is None:
            self.plan_ = self.build()
        return self.plan_


@dataclass(slots=True)
class WorkflowRecord:
    """One workflow: its scenario, its hosts (made on first use) and its runs."""

    id: str
    name: str
    description: str
    scenario: Scenario
    host_count: int
    created_ms: int
    seq: int
    executions: list[ExecutionRecord] = field(default_factory=list)
    inventory_: list[HostSpec] | None = None
    nodes_: list[dict[str, Any]] | None = None

    @property
    def inventory(self) -> list[HostSpec]:
        if self.inventory_ is None:
            s = self.scenario
            self.inventory_ = make_inventory(
                self.id, self.host_count, prefix=s.host_prefix, subnet=s.subnet, zones=s.zones,
                windows_share=s.windows_share, name_overrides=s.name_overrides,
            )  # fmt: skip
        return self.inventory_

    @property
    def nodes(self) -> list[dict[str, Any]]:
        """The workflow's node list as AOM's workflow list shows it (from a two-host plan)."""
        if self.nodes_ is None:
            template = self.scenario.plan(self.inventory[:2] or self.inventory,
                                          random.Random(self.id))  # fmt: skip
            self.nodes_ = [
                {"id": n.node_id, "name": n.node_id, "category": n.kind.value,
                 "description": n.message, "ignore_error": n.continue_on_failure,
                 "metadata": {"type": n.kind.value, "configuration": {}},
                 "parent_node": template.nodes[i - 1].node_id if i else "", "task_name": n.node_id}
                for i, n in enumerate(template.nodes)
            ]  # fmt: skip
        return self.nodes_
