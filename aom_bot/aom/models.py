"""Tolerant pydantic models of what AOM's automation API actually sends.

Real payloads are inconsistent (numbers as strings, ``floating_ip_List``, ``error_msg`` vs
``error_message``, epoch milliseconds as int *or* string, ISO strings, bare arrays). The rules here:
every field is optional, a value of the wrong type degrades to "unknown" instead of failing, unknown
statuses keep their raw text, and unknown host buckets are kept. Each key of a node's output is
judged on its own: a list of objects is a host bucket, anything else is kept as metadata. The
coercions themselves are in :mod:`aom_bot.aom.lenient`. Pure data: no I/O.

>>> detail = ExecutionDetail.model_validate({"execution_id": "e1", "status": "fail"})
>>> detail.status, detail.status.is_terminal
(<ExecutionStatus.FAIL: 'fail'>, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from aom_bot.aom.lenient import (
    LenientInt,
    LenientStr,
    LenientTime,
    StrList,
    list_of_objects,
    split_buckets,
    to_str,
)

__all__ = [
    "BUCKET_ORDER",
    "ExecutionDetail",
    "ExecutionStatus",
    "Host",
    "HostBucket",
    "NodeAction",
    "NodeResult",
    "Phase",
    "Workflow",
    "WorkflowPage",
    "host_key",
    "host_label",
    "parse_status",
]


class Phase(StrEnum):
    """What a status means for people watching: the bot's normalised view of AOM statuses."""

    ACTIVE = "active"
    NEEDS_HUMAN = "needs_human"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class NodeAction(StrEnum):
    """What to do with a paused or failed node (the ``action`` of the operation endpoint)."""

    RESTART = "restart"
    SKIP = "skip"
    CONTINUE = "continue"


class ExecutionStatus(StrEnum):
    """Execution and node statuses AOM is known or believed to use, plus UNKNOWN."""

    WAIT_EXECUTE = "waitExecute"
    EXECUTING = "executing"
    WAIT_APPROVAL = "waitApproval"
    APPROVAL_FAILED = "approvalFailed"
    PAUSING = "pausing"
    PAUSED = "paused"
    CANCELING = "canceling"
    CANCEL = "cancel"
    SUCCESS = "success"
    FAIL = "fail"
    UNKNOWN = "unknown"

    @property
    def phase(self) -> Phase:
        return _PHASES[self]

    @property
    def is_terminal(self) -> bool:
        """True when the execution will not change any more."""
        return self.phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELLED)


_PHASES: dict[ExecutionStatus, Phase] = {
    ExecutionStatus.WAIT_EXECUTE: Phase.ACTIVE,
    ExecutionStatus.EXECUTING: Phase.ACTIVE,
    ExecutionStatus.CANCELING: Phase.ACTIVE,
    ExecutionStatus.WAIT_APPROVAL: Phase.NEEDS_HUMAN,
    ExecutionStatus.PAUSING: Phase.NEEDS_HUMAN,
    ExecutionStatus.PAUSED: Phase.NEEDS_HUMAN,
    ExecutionStatus.APPROVAL_FAILED: Phase.FAILED,
    ExecutionStatus.FAIL: Phase.FAILED,
    ExecutionStatus.CANCEL: Phase.CANCELLED,
    ExecutionStatus.SUCCESS: Phase.SUCCEEDED,
    ExecutionStatus.UNKNOWN: Phase.UNKNOWN,
}

# Spellings seen in other AOM surfaces or plausible variants, folded to one status.
_STATUS_ALIASES: dict[str, ExecutionStatus] = {
    "running": ExecutionStatus.EXECUTING,
    "in_execution": ExecutionStatus.EXECUTING,
    "waiting": ExecutionStatus.WAIT_EXECUTE,
    "wait_execute": ExecutionStatus.WAIT_EXECUTE,
    "wait_approval": ExecutionStatus.WAIT_APPROVAL,
    "approval_failed": ExecutionStatus.APPROVAL_FAILED,
    "failed": ExecutionStatus.FAIL,
    "failure": ExecutionStatus.FAIL,
    "error": ExecutionStatus.FAIL,
    "succeeded": ExecutionStatus.SUCCESS,
    "successful": ExecutionStatus.SUCCESS,
    "canceled": ExecutionStatus.CANCEL,
    "cancelled": ExecutionStatus.CANCEL,
    "terminated": ExecutionStatus.CANCEL,
    "cancelling": ExecutionStatus.CANCELING,
    "terminating": ExecutionStatus.CANCELING,
    "pause": ExecutionStatus.PAUSED,
}
_STATUS_BY_FOLDED = {
    s.value.lower(): s for s in ExecutionStatus if s is not ExecutionStatus.UNKNOWN
}


def parse_status(raw: object) -> ExecutionStatus:
    """Map AOM's status text to an :class:`ExecutionStatus`; anything unrecognised is UNKNOWN."""
    if not isinstance(raw, str):
        return ExecutionStatus.UNKNOWN
    folded = raw.strip().lower()
    return _STATUS_BY_FOLDED.get(folded) or _STATUS_ALIASES.get(folded) or ExecutionStatus.UNKNOWN


class HostBucket(StrEnum):
    """The four host buckets of a script node's output, as AOM names them."""

    SUCCESS = "success"
    FAIL = "fail"
    IN_EXECUTION = "in_execution"
    NOT_PERFORMED = "not_performed"


#: display and "worst-of" order: a host failed anywhere is failed; running beats pending
BUCKET_ORDER: tuple[HostBucket, ...] = (
    HostBucket.FAIL,
    HostBucket.IN_EXECUTION,
    HostBucket.NOT_PERFORMED,
    HostBucket.SUCCESS,
)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def host_label(id_: str, name: str, ip: str) -> str:
    """What a person recognises a host by: its name, else IP, else ID (``Host.label``)."""
    return name or ip or id_ or "(unnamed host)"


def host_key(id_: str, name: str, ip: str) -> str:
    """A host's identity across nodes and polls: its server ID, else name/IP (``Host.key``)."""
    return id_ or f"{name}|{ip}"


class Host(_Tolerant):
    """One server's result inside a node's output bucket."""

    id: LenientStr = ""
    name: LenientStr = ""
    ip: LenientStr = ""
    availability_zone: LenientStr = ""
    floating_ips: StrList = Field(
        default_factory=list,
        validation_alias=AliasChoices("floating_ip_List", "floating_ip_list", "floating_ips"),
    )
    fixed_ips: StrList = Field(
        default_factory=list, validation_alias=AliasChoices("fixed_ip_list", "fixed_ips")
    )
    code: LenientStr = ""
    error_msg: LenientStr = Field(
        default="", validation_alias=AliasChoices("error_msg", "error_message", "errorMsg")
    )
    log: LenientStr = ""
    exit_code: LenientInt = None
    start_time: LenientTime = None
    execute_time_ms: LenientInt = Field(
        default=None, validation_alias=AliasChoices("execute_time", "execute_time_ms")
    )
    os_type: LenientStr = ""
    agent_state: LenientStr = ""
    instance_status: LenientStr = ""
    vpc_id: LenientStr = ""

    @property
    def label(self) -> str:
        """Name, else IP, else ID: what a person recognises the host by."""
        return host_label(self.id, self.name, self.ip)

    @property
    def key(self) -> str:
        """Identity across nodes and polls: the server ID, else name/IP."""
        return host_key(self.id, self.name, self.ip)


class NodeResult(_Tolerant):
    """One node (step) of an execution, with its hosts sorted into buckets."""

    node_id: LenientStr = ""
    raw_status: LenientStr = ""
    status: ExecutionStatus = ExecutionStatus.UNKNOWN
    begin_time: LenientTime = None
    end_time: LenientTime = None
    function_execution_id: LenientStr = ""
    #: host buckets by AOM's bucket name (known ones and any new ones): every list of objects
    buckets: dict[str, tuple[Host, ...]] = Field(default_factory=dict)
    #: the other keys of a bucketed output (``null`` buckets, counters, …), kept as sent
    output_meta: dict[str, Any] = Field(default_factory=dict)
    #: the output as sent, when it holds no host list at all (approval, pause, cloud nodes)
    raw_output: Any = None

    @model_validator(mode="before")
    @classmethod
    def _split_output(cls, data: object) -> object:
        if not isinstance(data, dict):
            return {}
        data = dict(data)
        data["raw_status"] = data.get("status")
        data["status"] = parse_status(data.get("status"))
        output = data.pop("output", None)
        for derived in ("buckets", "output_meta", "raw_output"):
            data.pop(derived, None)
        buckets, meta = split_buckets(output) if isinstance(output, dict) else ({}, {})
        if buckets:
            data["buckets"], data["output_meta"] = buckets, meta
        elif output not in (None, {}, []):
            data["raw_output"] = output
        return data

    def hosts(self, bucket: HostBucket | str) -> tuple[Host, ...]:
        return self.buckets.get(str(bucket), ())

    @property
    def extra_buckets(self) -> dict[str, tuple[Host, ...]]:
        """Buckets AOM sent that this version does not know."""
        known = {b.value for b in HostBucket}
        return {k: v for k, v in self.buckets.items() if k not in known}


class ExecutionDetail(_Tolerant):
    """An execution of a workflow: the "status" endpoint's body, or one item of the list."""

    workflow_id: LenientStr = ""
    execution_id: LenientStr = ""
    raw_status: LenientStr = ""
    status: ExecutionStatus = ExecutionStatus.UNKNOWN
    begin_time: LenientTime = None
    end_time: LenientTime = None
    last_update_time: LenientTime = None
    nodes: tuple[NodeResult, ...] = Field(default_factory=tuple)
    approvers: StrList = Field(default_factory=list)
    project_id: LenientStr = ""
    created_by: LenientStr = ""
    workflow_edit_time: LenientTime = None
    last_record_id_with_snapshot: LenientStr = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data  # let pydantic reject it: an execution must be an object
        data = dict(data)
        data["raw_status"] = data.get("status")
        data["status"] = parse_status(data.get("status"))
        if "execution_result_list" in data:
            data["nodes"] = list_of_objects(data.pop("execution_result_list"))
        elif not isinstance(data.get("nodes"), list | tuple):
            data.pop("nodes", None)
        if "approve_user_name_list" in data:
            data["approvers"] = data.pop("approve_user_name_list")
        return data

    def iter_hosts(self) -> Iterator[tuple[NodeResult, str, Host]]:
        """Every (node, bucket name, host) triple, in node order."""
        for node in self.nodes:
            for bucket, hosts in node.buckets.items():
                for host in hosts:
                    yield node, bucket, host

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


class Workflow(_Tolerant):
    """A workflow (an item of the workflow list)."""

    id: LenientStr = ""
    name: LenientStr = ""
    type: LenientStr = ""
    description: LenientStr = ""
    raw_status: LenientStr = ""
    status: ExecutionStatus = ExecutionStatus.UNKNOWN
    create_time: LenientTime = None
    update_time: LenientTime = None
    create_by: LenientStr = ""
    update_by: LenientStr = ""
    template_name: LenientStr = ""
    task_type: LenientStr = ""
    last_execution_id: LenientStr = ""
    last_execution_start_time: LenientTime = None
    last_execution_end_time: LenientTime = None
    enterprise_project_id: LenientStr = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("id") and data.get("workflow_id"):
            data["id"] = data["workflow_id"]
        data["raw_status"] = data.get("status")
        data["status"] = parse_status(data.get("status"))
        tags = data.get("tags")
        data["tags"] = (
            {str(k): to_str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}
        )
        return data


class WorkflowPage(_Tolerant):
    """One page of ``POST …/workflow-list``."""

    elements: tuple[Workflow, ...] = Field(default_factory=tuple)
    total_elements: LenientInt = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: object) -> object:
        if isinstance(data, list):
            data = {"elements": data}
        if not isinstance(data, dict):
            return data
        data = dict(data)
        data["elements"] = list_of_objects(data.get("elements"))
        return data
