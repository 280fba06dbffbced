"""The demo entry points (build_demo, environment_lines) and the simulator's independence."""

from __future__ import annotations

import httpx

from aom_bot.simulator import build_demo, create_simulator_app, environment_lines

from .conftest import BASE, FakeClock, SigningAuth


def test_build_demo_with_one_scenario_serves_only_that_workflow() -> None:
    """--scenario narrows the world to one readable workflow with its past runs."""
    demo = build_demo("paused", speed=2.0, seed=3, clock=FakeClock())
    page = demo.world.workflow_page()
    assert [w["name"] for w in page["elements"]] == ["canary-release"]
    assert demo.world.speed == 2.0
    assert len(demo.world.execution_ids(page["elements"][0]["id"])) == 3
    assert len(build_demo(None, 1.0, 3, clock=FakeClock()).world.workflow_ids()) == 9


def test_demo_is_stable_per_seed() -> None:
    """Same seed: same project, ids and credentials; another seed: different ones."""
    a, b = build_demo(None, 1.0, 5, FakeClock()), build_demo(None, 1.0, 5, FakeClock())
    c = build_demo(None, 1.0, 6, FakeClock())
    assert a.project_id == b.project_id != c.project_id
    assert a.world.workflow_ids() == b.world.workflow_ids()
    assert a.credentials == b.credentials != c.credentials
    assert a.credentials.ak is not None
    assert len(a.credentials.ak) == 20


async def test_environment_lines_point_a_signing_client_at_the_simulator() -> None:
    """The printed AK/SK/project really open the simulator they were printed for."""
    clock = FakeClock()
    demo = build_demo("all-success", 1.0, 9, clock)
    lines = environment_lines(demo, "http://127.0.0.1:8765")
    env = dict(line.split("=", 1) for line in lines)
    assert env["AOM_ENDPOINT"] == env["AOM_IAM_ENDPOINT"] == "http://127.0.0.1:8765"
    assert env["AOM_PROJECT_ID"] == demo.project_id
    app = create_simulator_app(demo.world, credentials=demo.credentials)
    auth = SigningAuth(env["CLOUD_SDK_AK"], env["CLOUD_SDK_SK"], clock,
                       project_id=env["AOM_PROJECT_ID"])  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=auth) as client:
        path = f"/v1/{env['AOM_PROJECT_ID']}/cms/workflow-list"
        r = await client.post(path, content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == 200
        assert r.json()["total_elements"] == 1
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as anonymous:
        assert (await anonymous.post(path, content=b"{}")).status_code == 401
