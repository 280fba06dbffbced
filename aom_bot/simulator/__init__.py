"""A stand-in AOM automation API for tests, demos and benchmarks.

It serves the same endpoints as AOM (workflow list, execute, list executions, execution status,
terminate, node operations) plus IAM's token endpoint, checks AK/SK signatures and tokens, and
moves executions forward on an injected clock. It builds its JSON by hand and never imports
``aom_bot.aom.models`` or the client, so a parsing bug cannot hide behind a matching simulator bug.

In-process, for tests::

    world = build_world(seed=1, clock=fake_clock)            # one workflow per scenario
    app = create_simulator_app(world, credentials=SimulatorCredentials())   # open demo mode
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aom.sim")

Over HTTP, for demos: ``demo = build_demo("paused", 1.0, seed=0)``, then
``serve_simulator(create_simulator_app(demo.world, credentials=demo.credentials))`` and print
``environment_lines(demo, "http://127.0.0.1:8765")``.
"""

from __future__ import annotations

from aom_bot.simulator.app import create_simulator_app
from aom_bot.simulator.auth import SimulatorCredentials
from aom_bot.simulator.demo import (
    Demo,
    build_demo,
    build_world,
    demo_credentials,
    environment_lines,
)
from aom_bot.simulator.faults import (
    FaultKind,
    Faults,
    RequestCounter,
    RequestRecord,
    SimulatedDisconnectError,
)
from aom_bot.simulator.scenarios import SCENARIOS
from aom_bot.simulator.serve import SimulatorServer, serve_simulator
from aom_bot.simulator.world import (
    EpochClock,
    NotFoundError,
    RejectedError,
    SimulatorError,
    World,
    scenario_names,
)

__all__ = [
    "SCENARIOS",
    "Demo",
    "EpochClock",
    "FaultKind",
    "Faults",
    "NotFoundError",
    "RejectedError",
    "RequestCounter",
    "RequestRecord",
    "SimulatedDisconnectError",
    "SimulatorCredentials",
    "SimulatorError",
    "SimulatorServer",
    "World",
    "build_demo",
    "build_world",
    "create_simulator_app",
    "demo_credentials",
    "environment_lines",
    "scenario_names",
    "serve_simulator",
]
