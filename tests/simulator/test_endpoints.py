"""The simulator's HTTP endpoints, in-process through httpx.ASGITransport (open demo mode)."""

from __future__ import annotations

import httpx
import pytest

from aom_bot.simulator import World

from .conftest import FakeClock, cms

PARAM_ERROR = {"error_code": "AOM.31001403", "error_message": "param error.", "htp_code": "400"}
JSON = {"Content-Type": "application/json"}


async def test_workflow_list_pages_from_zero_and_counts_everything(
    client: httpx.AsyncClient, world: World
) -> None:
    """page is 0-based, size caps the page, total_elements counts all matches."""
    seen: list[str] = []
    for page in range(4):
        r = await client.post(cms(world, "workflow-list"), json={"page": page, "size": 4})
        assert r.status_code == 200
        body = r.json()
        assert body["total_elements"] == 9
        seen.extend(w["id"] for w in body["elements"])
    assert len(seen) == len(set(seen)) == 9
    # the SDK omits unset fields: no body at all means page 0, size 10
    r = await client.post(cms(world, "workflow-list"), content=b"", headers=JSON)
    assert len(r.json()["elements"]) == 9
    r = await client.post(cms(world, "workflow-list"), json={"page": 1, "size": 5})
    assert len(r.json()["elements"]) == 4


async def test_workflow_list_search_matches_name_and_description(
    client: httpx.AsyncClient, world: World
) -> None:
    """search filters on name and description, case-insensitively."""
    r = await client.post(cms(world, "workflow-list"), json={"search": "NGINX"})
    assert [w["name"] for w in r.json()["elements"]] == ["deploy-nginx"]
    r = await client.post(cms(world, "workflow-list"), json={"search": "openssl on every"})
    assert [w["name"] for w in r.json()["elements"]] == ["patch-openssl"]
    r = await client.post(cms(world, "workflow-list"), json={"search": "zzz"})
    assert r.json() == {"elements": [], "total_elements": 0}


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'{"page": -1}', b'{"size": 0}', b'{"size": "10"}', b'{"page": true}',
     b'{"sort_type": "SIDEWAYS"}', b'{"sort_field": "name"}', b'{"search": 5}'],
)  # fmt: skip
async def test_workflow_list_rejects_bad_params_with_the_documented_400(
    client: httpx.AsyncClient, world: World, body: bytes
) -> None:
    """Malformed list queries get 400 with AOM's documented param-error body."""
    r = await client.post(cms(world, "workflow-list"), content=body, headers=JSON)
    assert r.status_code == 400
    assert r.json() == PARAM_ERROR


async def test_execute_creates_a_run_that_is_listed_first_and_progresses(
    client: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """POST executions returns an execution_id that heads the list and then advances."""
    wf = world.workflow_id_by_name("deploy-nginx")
    clock.advance(1)
    r = await client.post(cms(world, f"workflow/{wf}/executions"))
    assert r.status_code == 200
    ex = r.json()["execution_id"]
    listed = (await client.get(cms(world, f"workflow/{wf}/executions"), headers=JSON)).json()
    assert isinstance(listed, list)
    assert listed[0]["execution_id"] == ex
    assert listed[0]["status"] == "waitExecute"
    assert listed[0]["created_by"]
    assert all("execution_result_list" in item for item in listed)
    clock.advance(60)
    r = await client.get(cms(world, f"workflow/{wf}/executions/{ex}/status"), headers=JSON)
    detail = r.json()
    assert detail["status"] == "success"
    assert detail["workflow_id"] == wf
    assert detail["execution_id"] == ex
    assert "created_by" not in detail


async def test_unknown_workflow_or_execution_is_404(
    client: httpx.AsyncClient, world: World
) -> None:
    """Unknown ids give 404 with an AOM-style body, on every endpoint that takes them."""
    wf = world.workflow_ids()[0]
    for method, path in [
        ("POST", "workflow/nope/executions"),
        ("GET", "workflow/nope/executions"),
        ("GET", f"workflow/{wf}/executions/nope/status"),
        ("POST", f"workflow/{wf}/executions/nope/terminate"),
        ("POST", f"workflow/{wf}/executions/nope/operation?action=skip&node_id=x"),
    ]:
        r = await client.request(method, cms(world, path))
        assert r.status_code == 404, path
        assert r.json()["error_code"].startswith("AOM.")


async def test_unknown_api_and_wrong_project(client: httpx.AsyncClient, world: World) -> None:
    """An unknown path is the gateway's 404; another project's path is refused with 403."""
    r = await client.get(cms(world, "nothing-here"))
    assert r.status_code == 404
    assert r.json()["error_code"] == "APIGW.0101"
    r = await client.post("/v1/" + "f" * 32 + "/cms/workflow-list", json={})
    assert r.status_code == 403
    assert r.json()["error_code"] == "APIGW.0310"


async def test_terminate_rotates_its_undocumented_bodies(
    client: httpx.AsyncClient, world: World
) -> None:
    """Terminate answers 200 with empty, plain, JSON-string and JSON-object bodies in turn."""
    wf = world.workflow_id_by_name("patch-openssl")
    bodies = []
    for _ in range(5):
        ex = (await client.post(cms(world, f"workflow/{wf}/executions"))).json()["execution_id"]
        r = await client.post(cms(world, f"workflow/{wf}/executions/{ex}/terminate"))
        assert r.status_code == 200
        bodies.append(r.content)
    assert bodies == [b"", b"success", b'"success"', b'{"result":"success"}', b""]


async def test_terminate_cancels_the_run(
    client: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """After terminate the run reads canceling, then cancel."""
    wf = world.workflow_id_by_name("patch-openssl")
    ex = world.execution_ids(wf)[0]
    clock.advance(10)
    await client.post(cms(world, f"workflow/{wf}/executions/{ex}/terminate"))
    status = cms(world, f"workflow/{wf}/executions/{ex}/status")
    assert (await client.get(status)).json()["status"] == "canceling"
    clock.advance(10)
    assert (await client.get(status)).json()["status"] == "cancel"


async def test_operation_continue_resumes_a_paused_run(
    client: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """continue with the pause node's id answers {"result": "success"} and the run goes on."""
    wf = world.workflow_id_by_name("canary-release")
    ex = world.execution_ids(wf)[0]
    clock.advance(120)
    status = cms(world, f"workflow/{wf}/executions/{ex}/status")
    detail = (await client.get(status)).json()
    assert detail["status"] == "pausing"
    node = detail["execution_result_list"][-1]["node_id"]
    base = cms(world, f"workflow/{wf}/executions/{ex}/operation")
    r = await client.post(base, params={"action": "continue", "node_id": node})
    assert r.status_code == 200
    assert r.json() == {"result": "success"}
    clock.advance(120)
    assert (await client.get(status)).json()["status"] == "success"


@pytest.mark.parametrize(
    "query",
    ["", "?action=continue", "?node_id=check-canary", "?action=jump&node_id=check-canary",
     "?action=continue&node_id=canary", "?action=restart&node_id=check-canary"],
)  # fmt: skip
async def test_operation_rejects_bad_or_inapplicable_params(
    client: httpx.AsyncClient, world: World, clock: FakeClock, query: str
) -> None:
    """Missing/unknown action or a node that is not the paused/failed one gives the 400 body."""
    wf = world.workflow_id_by_name("canary-release")
    ex = world.execution_ids(wf)[0]
    clock.advance(120)
    r = await client.post(cms(world, f"workflow/{wf}/executions/{ex}/operation") + query)
    assert r.status_code == 400
    assert r.json() == PARAM_ERROR


async def test_operation_restart_and_skip_on_a_failed_node(
    client: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """restart re-runs the failed node's hosts; skip then ends the run."""
    wf = world.workflow_id_by_name("rotate-logs")
    ex = world.execution_ids(wf)[0]
    clock.advance(120)
    status = cms(world, f"workflow/{wf}/executions/{ex}/status")
    failed = (await client.get(status)).json()
    assert failed["status"] == "fail"
    node = failed["execution_result_list"][0]["node_id"]
    op = cms(world, f"workflow/{wf}/executions/{ex}/operation")
    assert (await client.post(op, params={"action": "restart", "node_id": node})).status_code == 200
    assert (await client.get(status)).json()["status"] == "executing"
    clock.advance(120)
    assert (await client.get(status)).json()["status"] == "fail"
    assert (await client.post(op, params={"action": "skip", "node_id": node})).status_code == 200
    assert (await client.get(status)).json()["status"] == "success"


async def test_responses_carry_a_request_id(client: httpx.AsyncClient, world: World) -> None:
    """Every answer has an X-Request-Id header, as the SDK expects."""
    r = await client.post(cms(world, "workflow-list"), json={})
    assert len(r.headers["x-request-id"]) == 32
