"""Small builders of raw AOM-shaped execution JSON for rendering tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aom_bot.aom.models import ExecutionDetail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aom"
WORKFLOW_ID = "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b"
BEGIN_MS = 1710490200000  # 2024-03-15 08:10:00 UTC


def load_fixture(name: str) -> ExecutionDetail:
    """A documented fixture (tests/fixtures/aom/NAME) parsed as the client would."""
    return ExecutionDetail.model_validate(json.loads((FIXTURES / name).read_text("utf-8")))


def host(
    i: int,
    *,
    name: str | None = None,
    zone: str = "cn-north-4a",
    log: str = "",
    exit_code: str = "",
    error_msg: str = "",
    ip: str | None = None,
) -> dict[str, Any]:
    return {
        "id": f"h-{i:05d}",
        "name": name if name is not None else f"web-{i:04d}",
        "ip": ip if ip is not None else f"10.20.{i // 250}.{i % 250 + 1}",
        "availability_zone": zone,
        "log": log,
        "exit_code": exit_code,
        "error_msg": error_msg,
        "code": "0",
    }


def node(
    node_id: str = "run-script",
    *,
    status: str = "fail",
    success: list[dict[str, Any]] | None = None,
    fail: list[dict[str, Any]] | None = None,
    in_execution: list[dict[str, Any]] | None = None,
    not_performed: list[dict[str, Any]] | None = None,
    **extra_buckets: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "status": status,
        "begin_time": BEGIN_MS + 1000,
        "output": {
            "success": success or [],
            "fail": fail or [],
            "in_execution": in_execution or [],
            "not_performed": not_performed or [],
            **extra_buckets,
        },
    }


def execution(
    *nodes: dict[str, Any],
    status: str = "fail",
    ended: bool = True,
    execution_id: str = "e-0001",
    **fields: Any,
) -> ExecutionDetail:
    raw: dict[str, Any] = {
        "workflow_id": WORKFLOW_ID,
        "execution_id": execution_id,
        "status": status,
        "begin_time": BEGIN_MS,
        "execution_result_list": list(nodes),
        **fields,
    }
    if ended:
        raw.setdefault("end_time", BEGIN_MS + 95_210)
    return ExecutionDetail.model_validate(raw)


def mass_failure(
    total: int, failed: int, *, groups: int = 3, log_size: int = 200
) -> ExecutionDetail:
    """``total`` hosts of which ``failed`` fail in ``groups`` distinct ways."""
    fails = []
    for i in range(failed):
        kind = i % groups
        log = (
            f"step {i} ok\n" * (log_size // 12)
        ) + f"error {kind}: disk /dev/vd{kind} full at 10.0.0.{i % 250}"
        fails.append(
            host(
                i, zone="cn-north-4b" if i % 5 else "cn-north-4a", log=log, exit_code=str(kind + 1)
            )
        )
    ok = [host(i, log="done") for i in range(failed, total)]
    return execution(node(success=ok, fail=fails))
