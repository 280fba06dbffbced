"""Proof the simulator speaks the real protocol: Huawei's own SDK talks to it over HTTP.

The simulator runs under uvicorn on 127.0.0.1 (a free port) in a background thread. The SDK signs
with the wall clock, so the simulator's fake clock starts at the wall time read once here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from huaweicloudsdkaom.v1 import (
    AomClient,
    ExecuteWorkflowRequest,
    ListWorkflowRequest,
    SearchWorkflowExecutionDetailRequest,
    StartPausingWorkflowExecutionsRequest,
    WorkflowQueryParam,
)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig

from aom_bot.simulator import (
    FaultKind,
    Faults,
    SimulatorCredentials,
    SimulatorServer,
    World,
    build_world,
    create_simulator_app,
)

from .conftest import AK, SK, FakeClock


class Live:
    def __init__(self, world: World, clock: FakeClock, faults: Faults, base_url: str) -> None:
        self.world, self.clock, self.faults, self.base_url = world, clock, faults, base_url

    def sdk(self, sk: str = SK) -> AomClient:
        config = HttpConfig.get_default_config()
        config.ignore_ssl_verification = True
        config.timeout = (5, 10)
        return (
            AomClient.new_builder()
            .with_credentials(BasicCredentials(AK, sk, self.world.project_id))
            .with_endpoints([self.base_url])
            .with_http_config(config)
            .build()
        )


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    clock = FakeClock(time.time())
    world = build_world(seed=21, clock=clock)
    faults = Faults()
    app = create_simulator_app(world, credentials=SimulatorCredentials(ak=AK, sk=SK),
                               faults=faults)  # fmt: skip
    with SimulatorServer(app) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        yield Live(world, clock, faults, server.base_url)


def test_official_sdk_reads_execution_details(live: Live) -> None:
    """SearchWorkflowExecutionDetail, signed by huaweicloudsdkcore, is accepted and parsed."""
    wf = live.world.workflow_id_by_name("rotate-logs")
    ex = live.world.execution_ids(wf)[0]
    live.clock.advance(120)
    request = SearchWorkflowExecutionDetailRequest(workflow_id=wf, execution_id=ex)
    response = live.sdk().search_workflow_execution_detail(request)
    assert response.status_code == 200
    assert response.execution_id == ex
    assert response.workflow_id == wf
    assert response.status == "fail"
    node = response.execution_result_list[0]
    assert len(node.output["fail"]) == 3
    assert node.output["fail"][0]["floating_ip_List"] is not None


def test_official_sdk_lists_executes_and_operates(live: Live) -> None:
    """A POST with a JSON body, a body-less POST and a POST with a query all verify."""
    sdk = live.sdk()
    page = sdk.list_workflow(ListWorkflowRequest(body=WorkflowQueryParam(search="canary", page=0,
                                                                         size=5)))  # fmt: skip
    assert [w.name for w in page.elements] == ["canary-release"]
    wf = page.elements[0].id
    started = sdk.execute_workflow(ExecuteWorkflowRequest(workflow_id=wf))
    assert started.execution_id == live.world.execution_ids(wf)[0]
    live.clock.advance(120)
    op = StartPausingWorkflowExecutionsRequest(workflow_id=wf, execution_id=started.execution_id,
                                               action="continue", node_id="check-canary")  # fmt: skip
    assert sdk.start_pausing_workflow_executions(op).status_code == 200


def test_official_sdk_with_a_wrong_sk_is_refused(live: Live) -> None:
    """The same call signed with another SK gets 401."""
    wf = live.world.workflow_ids()[0]
    request = SearchWorkflowExecutionDetailRequest(workflow_id=wf,
                                                   execution_id=live.world.execution_ids(wf)[0])  # fmt: skip
    with pytest.raises(ClientRequestException) as excinfo:
        live.sdk(sk=SK[::-1]).search_workflow_execution_detail(request)
    assert excinfo.value.status_code == 401


def test_dropped_connection_under_uvicorn_is_a_transport_error(live: Live) -> None:
    """Over a real socket, a drop makes the client fail mid-response, and the server lives on."""
    live.faults.upcoming.append(FaultKind.DROP)
    url = live.base_url + f"/v1/{live.world.project_id}/cms/workflow-list"
    with httpx.Client(trust_env=False, timeout=10) as client:
        with pytest.raises(httpx.TransportError):
            client.post(url, json={})
        assert client.post(url, json={}).status_code == 401  # still serving (and still checking)
