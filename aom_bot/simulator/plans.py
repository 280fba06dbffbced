"""What a run is made of: hosts, nodes, each host's attempts, and the plan that ties them up.

Plans are plain frozen data (scenario milliseconds after a node starts), so a run is fully
described by its plan plus the actions people took (see ``timeline``). The named scenarios that
make plans are in ``scenarios``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from aom_bot.simulator.ids import uuid_id

__all__ = [
    "AttemptOutcome",
    "ExecutionPlan",
    "HostRun",
    "HostSpec",
    "NodeKind",
    "NodeSpec",
    "PlanBuilder",
    "Scenario",
    "make_inventory",
]


class NodeKind(StrEnum):
    """What a workflow node does: run a script on hosts, wait for an approver, or pause."""

    SCRIPT = "script"
    APPROVAL = "approval"
    PAUSE = "pause"


@dataclass(frozen=True, slots=True)
class HostSpec:
    """One server of the inventory: the fields that never change between runs."""

    id: str
    name: str
    ip: str
    availability_zone: str
    os_type: str
    vpc_id: str
    floating_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How one attempt on a host ends."""

    ok: bool
    log: str = ""
    exit_code: str = "0"
    code: str = "0"
    error_msg: str = ""
    agent_offline: bool = False


@dataclass(frozen=True, slots=True)
class HostRun:
    """One host inside a script node: timing (scenario ms) and outcome of first try and retry."""

    host: HostSpec
    start_ms: int
    duration_ms: int
    outcome: AttemptOutcome
    retry: AttemptOutcome


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A workflow node. ``reported_status`` overrides the node status shown once it ended."""

    node_id: str
    kind: NodeKind = NodeKind.SCRIPT
    hosts: tuple[HostRun, ...] = ()
    continue_on_failure: bool = False
    reported_status: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """Everything that will happen in a run unless someone intervenes."""

    nodes: tuple[NodeSpec, ...]
    queue_ms: int = 1500
    approvers: tuple[str, ...] = ()
    terminate_after_ms: int | None = None
    terminated_by: str = "ops_admin"


PlanBuilder = Callable[[Sequence[HostSpec], random.Random], ExecutionPlan]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named scenario with the readable workflow it backs in the default world."""

    name: str
    workflow_name: str
    description: str
    host_count: int
    plan: PlanBuilder
    host_prefix: str = "web"
    subnet: str = "192.168"
    zones: tuple[str, ...] = ("cn-north-4a", "cn-north-4b")
    windows_share: float = 0.0
    name_overrides: dict[int, str] = field(default_factory=dict)


def make_inventory(
    key: str,
    count: int,
    *,
    prefix: str = "web",
    subnet: str = "192.168",
    zones: Sequence[str] = ("cn-north-4a", "cn-north-4b"),
    windows_share: float = 0.0,
    name_overrides: dict[int, str] | None = None,
) -> list[HostSpec]:
    """``count`` hosts named ``prefix-01``… (``-0001``… from 1,000 on), IPs ``subnet.x.y``."""
    rng = random.Random(f"inventory:{key}")
    width = 4 if count >= 1000 else 2 if count < 100 else 3
    vpc = uuid_id(key, "vpc")
    overrides = name_overrides or {}
    hosts = []
    for i in range(1, count + 1):
        ip = f"{subnet}.{(i - 1) // 250}.{(i - 1) % 250 + 1}"
        name = overrides.get(i - 1, f"{prefix}-{i:0{width}d}")
        is_windows = rng.random() < windows_share or name.startswith("win-")
        floating = (f"203.0.113.{i % 250 + 1}",) if i % 10 == 1 else ()
        hosts.append(
            HostSpec(
                id=uuid_id(key, "host", i),
                name=name,
                ip=ip,
                availability_zone=zones[(i - 1) % len(zones)],
                os_type="Windows" if is_windows else "Linux",
                vpc_id=vpc,
                floating_ips=floating,
            )
        )
    return hosts
