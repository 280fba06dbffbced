"""Raw AOM JSON, built by hand from snapshots, shaped like the reference fixtures (F1-F6).

Deliberately independent of ``aom_bot.aom.models``: if the client misreads a field, the simulator
must not make the same mistake. Hence the quirks are reproduced on purpose: ``floating_ip_List``
with a capital L, numbers and host timestamps as strings, execution timestamps as ints.
"""

from __future__ import annotations

from typing import Any

from aom_bot.simulator.ids import hex_id, uuid_id
from aom_bot.simulator.plans import NodeKind
from aom_bot.simulator.records import ExecutionRecord, WorkflowRecord
from aom_bot.simulator.timeline import Bucket, HostState, NodeState, Snapshot

__all__ = ["execution_json", "host_json", "node_json", "workflow_json"]

_BUCKETS = (Bucket.SUCCESS, Bucket.FAIL, Bucket.IN_EXECUTION, Bucket.NOT_PERFORMED)


def host_json(state: HostState) -> dict[str, Any]:
    """One per-host object (§4.3.1), every key present, in the documented order."""
    run, host, outcome = state.run, state.run.host, state.outcome
    offline = run.outcome.agent_offline
    code, error_msg, log, exit_code = "0", "", "", ""
    start = "" if state.start_ms is None or offline else str(state.start_ms)
    took = ""
    if state.canceled:
        code, error_msg = "1", "task canceled"
        took = str((state.end_ms or 0) - (state.start_ms or 0))
    elif outcome is not None:
        code, error_msg, log, exit_code = (outcome.code, outcome.error_msg, outcome.log,
                                           outcome.exit_code)  # fmt: skip
        if not outcome.agent_offline:
            took = str((state.end_ms or 0) - (state.start_ms or 0))
    return {
        "availability_zone": host.availability_zone,
        "code": code,
        "error_msg": error_msg,
        "floating_ip_List": list(host.floating_ips),
        "charging_mode": "0",
        "current_project": True,
        "log": log,
        "vpc_id": host.vpc_id,
        "ip": host.ip,
        "fixed_ip_list": [host.ip],
        "tags": [],
        "start_time": start,
        "enterprise_project_id": "0",
        "execute_time": took,
        "os_type": host.os_type,
        "agent_state": "OFFLINE" if offline else "ONLINE",
        "exit_code": exit_code,
        "name": host.name,
        "id": host.id,
        "instance_status": "ACTIVE",
    }


def node_json(node: NodeState, function_execution_id: str) -> dict[str, Any]:
    """One ``execution_result_list`` entry; ``end_time`` only once the node ended."""
    out: dict[str, Any] = {"node_id": node.spec.node_id, "begin_time": node.begin_ms}
    if node.end_ms is not None:
        out["end_time"] = node.end_ms
    out["function_execution_id"] = function_execution_id
    if node.spec.kind is NodeKind.SCRIPT:
        buckets: dict[str, list[dict[str, Any]]] = {b.value: [] for b in _BUCKETS}
        for state in node.hosts:
            buckets[state.bucket.value].append(host_json(state))
        out["output"] = buckets
    else:
        # approval and pause nodes carry no hosts: a dict that is not a dict of host lists
        out["output"] = {"message": node.message}
    out["status"] = node.status
    return out


def execution_json(
    snap: Snapshot,
    *,
    workflow_id: str,
    execution_id: str,
    project_id: str,
    begin_ms: int,
    approvers: tuple[str, ...],
    edit_ms: int,
    node_ids: dict[str, str],
    snapshot_id: str,
    created_by: str | None = None,
) -> dict[str, Any]:
    """The execution detail (§4.1); with ``created_by`` it is a list item (§4.2)."""
    out: dict[str, Any] = {
        "workflow_id": workflow_id,
        "execution_id": execution_id,
        "status": snap.status,
        "begin_time": begin_ms,
    }
    if snap.end_ms is not None:
        out["end_time"] = snap.end_ms
    out["last_update_time"] = snap.last_change_ms
    if created_by is not None:
        out["created_by"] = created_by
    out["approve_user_name_list"] = list(approvers)
    out["execution_result_list"] = [node_json(n, node_ids[n.spec.node_id]) for n in snap.nodes]
    out["project_id"] = project_id
    out["workflow_edit_time"] = edit_ms
    out["last_record_id_with_snapshot"] = snapshot_id
    return out


def workflow_json(
    wf: WorkflowRecord,
    latest: ExecutionRecord | None,
    snap: Snapshot | None,
    *,
    project_id: str,
) -> dict[str, Any]:
    """One workflow of the workflow list (§4.4), with its ``latest`` run in state ``snap``."""
    out: dict[str, Any] = {
        "id": wf.id,
        "name": wf.name,
        "type": "manual",
        "description": wf.description,
        "tags": {"team": "sre", "scenario": wf.scenario.name},
        "create_time": wf.created_ms,
        "update_time": wf.created_ms,
        "create_by": "ops_admin",
        "update_by": "ops_admin",
        "template_name": "CMS::ECS::BulkyRunScript",
        "template_id": uuid_id(wf.id, "template"),
        "input": {"execute_user": "root", "timeout": "300", "ecs_count": str(wf.host_count)},
        "last_execution_id": latest.id if latest else "",
        "status": snap.status if snap else "",
        "citation_urns": [],
        "last_execution_start_time": latest.begin_ms if latest else None,
        "last_execution_end_time": snap.end_ms if snap else None,
        "quote": [],
        "job_name": wf.name,
        "job_id": uuid_id(wf.id, "job"),
        "service_scenario": "",
        "service_name": "",
        "task_type": "script",
        "project_id": project_id,
        # FunctionGraph's own id, *not* the one for the URL paths (§4.4)
        "workflow_id": hex_id(wf.id, "functiongraph"),
        "task_status": snap.status if snap else "",
        "nodes": wf.nodes,
        "edit_time": wf.created_ms,
        "execution_action_rules": [],
        "execution_permission": [],
        "global_parameters": [],
        "is_delete": False,
        "steps": [],
        "output": "",
        "trigger_id": "",
        "trigger_status": "",
        "approve_id": "",
        "template_i18n": {
            "en-us": {"name": "Bulk run script"},
            "zh-cn": {"name": "批量执行脚本"},
        },
        "enterprise_project_id": "0",
        "last_execute_by": latest.created_by if latest else "",
    }
    return out
