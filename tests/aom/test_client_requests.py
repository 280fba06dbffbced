"""AomClient: the request each method sends, and how it reads the documented fixtures."""

from __future__ import annotations

import json

import httpx
import pytest

from aom_bot.aom.client import NodeAction
from aom_bot.aom.models import ExecutionStatus, HostBucket
from aom_bot.errors import AomResponseError

from .helpers import (
    EX,
    PROJECT,
    WF,
    FakeAom,
    fixture_bytes,
    fixture_json,
    json_response,
    make_client,
)

PREFIX = f"/v1/{PROJECT}/cms"


def fixture_response(name: str) -> httpx.Response:
    return httpx.Response(200, content=fixture_bytes(name), headers={"X-Request-Id": "rid-1"})


async def test_get_execution_request_shape() -> None:
    """GET …/status with Content-Type JSON, no body and no query."""
    fake = FakeAom(fixture_response("f3_failed"))
    async with make_client(fake) as aom:
        await aom.get_execution(WF, EX)
    sent = fake.last
    assert sent.method == "GET"
    assert sent.url.path == f"{PREFIX}/workflow/{WF}/executions/{EX}/status"
    assert sent.url.query == b""
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.content == b""


async def test_get_execution_parses_the_failed_fixture() -> None:
    """F3: five failed hosts with the 4 KB yum log, Chinese text and CRLF kept intact."""
    fake = FakeAom(fixture_response("f3_failed"))
    async with make_client(fake) as aom:
        detail = await aom.get_execution(WF, EX)
    assert detail.status is ExecutionStatus.FAIL
    assert detail.is_terminal
    node = detail.nodes[0]
    failed = node.hosts(HostBucket.FAIL)
    assert [h.name for h in failed] == [
        "web-02",
        "web-03",
        "数据库-主节点-01",
        "win-iis-01",
        "web-06",
    ]
    yum = failed[1].log
    assert len(yum.encode()) == 3981
    assert yum.count("\n") == 62
    assert failed[2].exit_code == 28
    assert "\r\n" in failed[3].log
    assert failed[4].agent_state == "OFFLINE"
    assert failed[4].error_msg == "agent is offline"
    assert [h.name for h in node.hosts(HostBucket.SUCCESS)] == ["web-01"]


async def test_get_execution_parses_running_and_success_fixtures() -> None:
    """F1 is active with hosts in every bucket; F2 succeeded on three hosts."""
    fake = FakeAom(fixture_response("f1_running"), fixture_response("f2_success"))
    async with make_client(fake) as aom:
        running = await aom.get_execution(WF, "e1000000-0000-4000-8000-000000000001")
        done = await aom.get_execution(WF, "e2000000-0000-4000-8000-000000000002")
    assert running.status is ExecutionStatus.EXECUTING
    assert not running.is_terminal
    assert running.end_time is None
    counts = {b: len(running.nodes[0].hosts(b)) for b in HostBucket}
    assert counts == {
        HostBucket.SUCCESS: 1,
        HostBucket.FAIL: 0,
        HostBucket.IN_EXECUTION: 2,
        HostBucket.NOT_PERFORMED: 2,
    }
    assert done.status is ExecutionStatus.SUCCESS
    assert len(done.nodes[0].hosts(HostBucket.SUCCESS)) == 3


async def test_get_execution_fills_in_ids_missing_from_the_body() -> None:
    """A body without IDs still yields a detail that names the execution that was asked for."""
    fake = FakeAom(json_response({"status": "executing"}))
    async with make_client(fake) as aom:
        detail = await aom.get_execution(WF, EX)
    assert (detail.workflow_id, detail.execution_id) == (WF, EX)


async def test_list_executions_newest_first() -> None:
    """F6 (a bare array) comes back sorted by begin time, newest first, whatever AOM's order."""
    items = fixture_json("f6_list")
    assert isinstance(items, list)
    shuffled = [items[2], items[0], items[1]]
    fake = FakeAom(json_response(shuffled))
    async with make_client(fake) as aom:
        executions = await aom.list_executions(WF)
    assert fake.last.method == "GET"
    assert fake.last.url.path == f"{PREFIX}/workflow/{WF}/executions"
    assert [e.execution_id[:2] for e in executions] == ["e1", "e3", "e2"]
    assert executions[0].created_by == "ops_bot"


async def test_list_executions_enterprise_project_query() -> None:
    """The optional enterprise project goes into the query under AOM's own key name."""
    fake = FakeAom(json_response([]))
    async with make_client(fake) as aom:
        assert await aom.list_executions(WF, enterprise_project_id="0") == []
    assert fake.last.url.query == b"x_enterprise_project_id=0"


async def test_list_executions_rejects_a_non_array() -> None:
    """An object where an array belongs is a response error, not a crash or an empty list."""
    fake = FakeAom(json_response({"executions": []}))
    async with make_client(fake) as aom:
        with pytest.raises(AomResponseError, match="expected a JSON array"):
            await aom.list_executions(WF)


async def test_terminate_accepts_any_success_body() -> None:
    """Terminate POSTs with no body and succeeds on empty, text, JSON string and object bodies."""
    bodies = [b"", b"success", b'"success"', b'{"result": "success"}']
    fake = FakeAom(*[httpx.Response(200, content=body) for body in bodies])
    async with make_client(fake) as aom:
        for _ in bodies:
            await aom.terminate_execution(WF, EX)  # raises on failure
    assert fake.count == 4
    assert all(r.method == "POST" and r.content == b"" for r in fake.requests)
    assert fake.last.url.path == f"{PREFIX}/workflow/{WF}/executions/{EX}/terminate"


@pytest.mark.parametrize("action", list(NodeAction))
async def test_operate_node_request_and_result(action: NodeAction) -> None:
    """The operation carries action and node_id in the (sorted) query and returns ``result``."""
    fake = FakeAom(json_response({"result": "success"}))
    async with make_client(fake) as aom:
        result = await aom.operate_node(WF, EX, "run-script", action)
    assert result == "success"
    assert fake.last.method == "POST"
    assert fake.last.url.path == f"{PREFIX}/workflow/{WF}/executions/{EX}/operation"
    assert fake.last.url.query == f"action={action.value}&node_id=run-script".encode()
    assert fake.last.content == b""


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"", None), (b"ok", "ok"), (b'"ok"', "ok"), (b'{"x": 1}', {"x": 1})],
)
async def test_operate_node_odd_bodies(body: bytes, expected: object) -> None:
    """Undocumented operation bodies come back as they are rather than failing."""
    fake = FakeAom(httpx.Response(200, content=body))
    async with make_client(fake) as aom:
        assert await aom.operate_node(WF, EX, "n1", NodeAction.SKIP) == expected


async def test_execute_workflow_returns_the_new_execution_id() -> None:
    """Execute POSTs with no body and returns AOM's execution_id."""
    fake = FakeAom(json_response({"execution_id": "e1000000-0000-4000-8000-000000000001"}))
    async with make_client(fake) as aom:
        assert await aom.execute_workflow(WF) == "e1000000-0000-4000-8000-000000000001"
    assert fake.last.method == "POST"
    assert fake.last.url.path == f"{PREFIX}/workflow/{WF}/executions"
    assert fake.last.content == b""


@pytest.mark.parametrize(
    "body", [b"{}", b'{"execution_id": "../x"}', b"[]", b"nope", b'{"execution_id": 5}']
)
async def test_execute_workflow_without_a_usable_id(body: bytes) -> None:
    """A success answer without a valid execution ID is a response error."""
    fake = FakeAom(httpx.Response(200, content=body))
    async with make_client(fake) as aom:
        with pytest.raises(AomResponseError):
            await aom.execute_workflow(WF)


def workflow_page(ids: list[str], total: int | None) -> httpx.Response:
    page: dict[str, object] = {"elements": [{"id": i, "name": f"name-{i}"} for i in ids]}
    if total is not None:
        page["total_elements"] = total
    return json_response(page)


async def test_list_workflows_pages_until_total() -> None:
    """Pages are requested from 0 up until total_elements workflows are held."""
    fake = FakeAom(
        workflow_page(["a", "b"], 5), workflow_page(["c", "d"], 5), workflow_page(["e"], 5)
    )
    async with make_client(fake) as aom:
        found = await aom.list_workflows("deploy", page_size=2)
    assert [w.id for w in found] == ["a", "b", "c", "d", "e"]
    bodies = [json.loads(r.content) for r in fake.requests]
    assert [b["page"] for b in bodies] == [0, 1, 2]
    assert bodies[0] == {
        "page": 0,
        "size": 2,
        "sort_field": "update_time",
        "sort_type": "DESC",
        "search": "deploy",
    }
    assert all(
        r.url.path == f"{PREFIX}/workflow-list" and r.method == "POST" for r in fake.requests
    )


async def test_list_workflows_stops_on_an_empty_page_and_at_the_limit() -> None:
    """Without a total, an empty page ends the listing; a limit ends it early and trims."""
    fake = FakeAom(workflow_page(["a", "b"], None), workflow_page([], None))
    async with make_client(fake) as aom:
        assert [w.id for w in await aom.list_workflows(page_size=2)] == ["a", "b"]
    assert fake.count == 2
    fake = FakeAom(workflow_page(["a", "b"], 100), workflow_page(["c", "d"], 100))
    async with make_client(fake) as aom:
        assert [w.id for w in await aom.list_workflows(limit=3, page_size=2)] == ["a", "b", "c"]
    assert fake.count == 2


async def test_list_workflows_survives_a_server_that_ignores_page() -> None:
    """A server returning the same page forever is asked twice, not forever."""
    fake = FakeAom(workflow_page(["a", "b"], 50))
    async with make_client(fake) as aom:
        found = await aom.list_workflows(page_size=2)
    assert [w.id for w in found] == ["a", "b"]
    assert fake.count == 2


async def test_list_workflows_omits_search_when_not_given() -> None:
    """No search key is sent when no search text is given."""
    fake = FakeAom(workflow_page([], 0))
    async with make_client(fake) as aom:
        assert await aom.list_workflows() == []
    assert "search" not in json.loads(fake.last.content)


async def test_non_ascii_search_is_sent_as_utf8_json() -> None:
    """Search text is serialised by the client as compact UTF-8 JSON (what the signer hashes)."""
    fake = FakeAom(workflow_page([], 0))
    async with make_client(fake) as aom:
        await aom.list_workflows("巡检 🔥")
    assert '"search":"巡检 🔥"'.encode() in fake.last.content
