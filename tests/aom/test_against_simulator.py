"""The client against the project's simulator (in-process, via httpx.ASGITransport).

The simulator verifies AK/SK signatures and tokens with its own code and builds its JSON without
the client's models, so these tests catch disagreements a MockTransport cannot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from aom_bot.aom.auth import AkSkAuth, TokenAuth
from aom_bot.aom.client import AomClient, NodeAction, build_http_client
from aom_bot.aom.models import ExecutionStatus, Phase
from aom_bot.aom.tokens import IamTokenProvider, PasswordIdentity
from aom_bot.errors import AomAuthError, AomBadRequestError, AomNotFoundError
from aom_bot.simulator import Demo, build_demo, create_simulator_app

BASE = "http://aom.sim"


class Clock:
    """The simulator's world clock (epoch seconds), moved by the tests."""

    def __init__(self) -> None:
        self.epoch = 1_710_000_000.0

    def __call__(self) -> float:
        return self.epoch

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch, tz=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def demo(clock: Clock) -> Demo:
    return build_demo(seed=3, clock=clock)


def transport(demo: Demo) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_simulator_app(demo.world, credentials=demo.credentials))


@pytest.fixture
async def aom(demo: Demo, clock: Clock) -> AsyncIterator[AomClient]:
    creds = demo.credentials
    assert creds.ak is not None
    assert creds.sk is not None
    auth = AkSkAuth(ak=creds.ak, sk=creds.sk, project_id=demo.project_id, clock=clock.now)
    http = build_http_client(base_url=BASE, auth=auth, transport=transport(demo))
    async with AomClient(http, project_id=demo.project_id) as client:
        yield client


async def test_workflows_executions_and_details(aom: AomClient, demo: Demo, clock: Clock) -> None:
    """Paging through every workflow, then each workflow's runs (newest first) and details."""
    workflows = await aom.list_workflows(page_size=4)
    assert sorted(w.id for w in workflows) == sorted(demo.world.workflow_ids())
    for workflow in workflows:
        runs = await aom.list_executions(workflow.id)
        begins = [r.begin_time for r in runs]
        assert begins == sorted(begins, key=lambda b: b or clock.now(), reverse=True)
        detail = await aom.get_execution(workflow.id, runs[0].execution_id)
        assert detail.execution_id == runs[0].execution_id


async def test_large_execution_has_2000_hosts(aom: AomClient, demo: Demo) -> None:
    """A finished run of the 2,000-host scenario parses completely."""
    wf = demo.world.workflow_id_by_name("fleet-config-push")
    finished = [run for run in await aom.list_executions(wf) if run.is_terminal]
    detail = await aom.get_execution(wf, finished[0].execution_id)
    assert sum(1 for _ in detail.iter_hosts()) == 2000


async def test_execute_then_terminate(aom: AomClient, demo: Demo) -> None:
    """Starting and stopping a run go through, signed, as body-less POSTs."""
    wf = demo.world.workflow_id_by_name("reindex-search")
    execution_id = await aom.execute_workflow(wf)
    assert execution_id in demo.world.execution_ids(wf)
    await aom.terminate_execution(wf, execution_id)
    detail = await aom.get_execution(wf, execution_id)
    assert detail.status in {ExecutionStatus.CANCEL, ExecutionStatus.CANCELING}


async def test_continue_a_paused_run(aom: AomClient, demo: Demo, clock: Clock) -> None:
    """Continuing a run too early is a 400; once it pauses, continue lets it finish."""
    wf = demo.world.workflow_id_by_name("canary-release")
    run = (await aom.list_executions(wf))[0]
    with pytest.raises(AomBadRequestError):
        await aom.operate_node(wf, run.execution_id, "run-script", NodeAction.CONTINUE)
    for _ in range(120):  # the scenario pauses within minutes of simulated time
        detail = await aom.get_execution(wf, run.execution_id)
        if detail.status.phase is Phase.NEEDS_HUMAN:
            break
        clock.epoch += 10
    else:
        pytest.fail("the paused scenario never paused")
    await aom.operate_node(wf, run.execution_id, detail.nodes[-1].node_id, NodeAction.CONTINUE)
    for _ in range(360):
        clock.epoch += 10
        detail = await aom.get_execution(wf, run.execution_id)
        if detail.is_terminal:
            break
    assert detail.status is ExecutionStatus.SUCCESS


async def test_unknown_execution_is_not_found(aom: AomClient, demo: Demo) -> None:
    """An execution the simulator does not know is AomNotFoundError, not a crash."""
    wf = demo.world.workflow_ids()[0]
    with pytest.raises(AomNotFoundError):
        await aom.get_execution(wf, "e0000000-0000-4000-8000-00000000dead")


async def test_wrong_secret_key_is_refused(demo: Demo, clock: Clock) -> None:
    """A signature made with the wrong SK is refused as AomAuthError."""
    assert demo.credentials.ak is not None
    auth = AkSkAuth(ak=demo.credentials.ak, sk="wrong", project_id=demo.project_id, clock=clock.now)
    http = build_http_client(base_url=BASE, auth=auth, transport=transport(demo))
    async with AomClient(http, project_id=demo.project_id) as client:
        with pytest.raises(AomAuthError):
            await client.list_workflows()


async def test_token_auth_through_the_simulated_iam(demo: Demo, clock: Clock) -> None:
    """A password token from the simulator's IAM opens the simulated AOM."""
    creds = demo.credentials
    assert creds.iam_user is not None
    assert creds.iam_password is not None
    shared = transport(demo)
    iam_http = build_http_client(base_url=BASE, auth=None, transport=shared)
    identity = PasswordIdentity(
        user=creds.iam_user, password=creds.iam_password, domain="sim", project_id=demo.project_id
    )
    provider = IamTokenProvider(iam_http, identity, clock=clock.now)
    http = build_http_client(base_url=BASE, auth=TokenAuth(provider), transport=shared)
    async with AomClient(http, project_id=demo.project_id) as client:
        workflows = await client.list_workflows()
        wf = demo.world.workflow_id_by_name("rotate-logs")
        detail = await client.get_execution(wf, (await client.list_executions(wf))[0].execution_id)
    await provider.aclose()
    assert len(workflows) == len(demo.world.workflow_ids())
    assert detail.execution_id
