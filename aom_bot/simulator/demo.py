"""The default world and demo credentials behind ``aom-bot simulate``.

>>> demo = build_demo("paused", speed=1.0, seed=7, clock=lambda: 1_710_000_000.0)
>>> [w["name"] for w in demo.world.workflow_page()["elements"]]
['canary-release']
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aom_bot.simulator.auth import SimulatorCredentials
from aom_bot.simulator.ids import hex_id
from aom_bot.simulator.scenarios import SCENARIOS, get_scenario
from aom_bot.simulator.world import EpochClock, World

__all__ = ["Demo", "build_demo", "build_world", "demo_credentials", "environment_lines"]

_DAY_MS = 86_400_000
#: scenarios whose past runs all went well; the others failed yesterday
_HAPPY = frozenset({"all-success", "waiting-approval", "paused", "terminated"})


@dataclass(frozen=True, slots=True)
class Demo:
    """A world plus the credentials that unlock it."""

    world: World
    credentials: SimulatorCredentials

    @property
    def project_id(self) -> str:
        """The project id to put in ``AOM_PROJECT_ID``."""
        return self.world.project_id


def build_world(*, seed: int, clock: EpochClock, speed: float = 1.0,
                scenarios: list[str] | None = None, current_runs: bool = True) -> World:  # fmt: skip
    """One workflow per scenario (named as in :data:`SCENARIOS`), each with two finished past
    runs and, with ``current_runs``, one run that starts now and follows the scenario."""
    world = World(seed=seed, clock=clock, speed=speed)
    now = world.now_ms()
    for name in scenarios if scenarios is not None else list(SCENARIOS):
        spec = get_scenario(name)
        wf = world.add_workflow(spec.workflow_name, scenario=name)
        world.add_execution(wf, begin_ms=now - 2 * _DAY_MS, history="success")
        happy = name in _HAPPY
        world.add_execution(wf, begin_ms=now - _DAY_MS, history="success" if happy else "fail",
                            created_by="ops_bot")  # fmt: skip
        if current_runs:
            world.add_execution(wf, begin_ms=now)
    return world


def demo_credentials(seed: int) -> SimulatorCredentials:
    """AK/SK and an IAM user derived from the seed (stable, and worthless outside the demo)."""
    return SimulatorCredentials(
        ak="SIM" + hex_id(seed, "ak")[:17].upper(),
        sk=hex_id(seed, "sk") + hex_id(seed, "sk2")[:8],
        iam_user="sim-user",
        iam_password=hex_id(seed, "iam-password")[:16],
        user_name="ops_bot",
    )


def build_demo(scenario: str | None = None, speed: float = 1.0, seed: int = 0,
               clock: EpochClock = time.time) -> Demo:  # fmt: skip
    """The ``aom-bot simulate`` world: every scenario, or only ``scenario``; raises ConfigError
    for an unknown name or a bad speed."""
    world = build_world(seed=seed, clock=clock, speed=speed,
                        scenarios=None if scenario is None else [scenario])  # fmt: skip
    return Demo(world, demo_credentials(seed))


def environment_lines(demo: Demo, base_url: str) -> list[str]:
    """``KEY=value`` lines that point the bot at a simulator serving ``demo`` at ``base_url``.

    They contain the demo SK: fine to print for a local demo, since it unlocks only the simulator.
    """
    creds = demo.credentials
    return [
        f"AOM_ENDPOINT={base_url}",
        f"AOM_IAM_ENDPOINT={base_url}",
        f"AOM_PROJECT_ID={demo.project_id}",
        f"CLOUD_SDK_AK={creds.ak or ''}",
        f"CLOUD_SDK_SK={creds.sk or ''}",
    ]
