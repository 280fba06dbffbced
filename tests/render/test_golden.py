"""Golden snapshots of rendered cards: the documented fixtures and every simulator scenario.

A snapshot changes only when rendering (or the simulator's data) changes on purpose. Review the
diff, then regenerate with ``AOM_BOT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/render/test_golden.py``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from aom_bot.aom.models import ExecutionDetail
from aom_bot.render import execution_message
from aom_bot.render.report import report_text
from aom_bot.render.terminal import render_execution
from aom_bot.simulator.scenarios import SCENARIOS
from aom_bot.simulator.world import World, scenario_names
from tests.render.checks import assert_inert, assert_valid
from tests.render.factories import load_fixture

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("AOM_BOT_UPDATE_GOLDEN") == "1"
T0 = 1_710_490_200.0  # 2024-03-15 08:10:00 UTC
CONSOLE = "https://console.example/aom2/automation/{w}/executions/{e}?region=cn-north-4"


def _compare(name: str, rendered: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with AOM_BOT_UPDATE_GOLDEN=1")
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden snapshot; if the change is intended, "
        "regenerate with AOM_BOT_UPDATE_GOLDEN=1"
    )


def _message_json(detail: ExecutionDetail, now: datetime, **kwargs: Any) -> str:
    message = execution_message(detail, now=now, **kwargs)
    assert_valid(message)
    assert_inert(message)
    return json.dumps(message.to_dict(), ensure_ascii=False, indent=2) + "\n"


FIXTURES = {
    "f1_running": datetime(2024, 3, 15, 8, 10, 45, tzinfo=UTC),
    "f2_success": datetime(2024, 3, 15, 8, 12, tzinfo=UTC),
    "f3_failed": datetime(2024, 3, 15, 8, 12, tzinfo=UTC),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_cards_match_golden(name: str) -> None:
    """The reference fixtures F1-F3 render exactly as reviewed."""
    detail = load_fixture(f"{name}.json")
    url = CONSOLE.format(w=detail.workflow_id, e=detail.execution_id)
    rendered = _message_json(detail, FIXTURES[name], workflow_name="deploy-nginx", console_url=url)
    _compare(f"message_{name}.json", rendered)


def test_f3_terminal_and_report_match_golden() -> None:
    """`aom-bot show` and the text report for F3, as a person reads them."""
    detail = load_fixture("f3_failed.json")
    now = FIXTURES["f3_failed"]
    console = Console(width=80, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    with console.file:
        console.print(render_execution(detail, now=now, workflow_name="deploy-nginx"))
    _compare("terminal_f3_failed.txt", console.export_text())
    _compare("report_f3_failed.txt", report_text(detail, now=now, workflow_name="deploy-nginx"))


# (scenario, seconds after start): settled states, plus two runs caught mid-flight
SIM_CASES = [(name, 600) for name in scenario_names()] + [("large", 15), ("mass-failure", 30)]


@pytest.mark.parametrize(("scenario", "after"), SIM_CASES)
def test_simulator_scenario_cards_match_golden(scenario: str, after: int) -> None:
    """Each simulator scenario, parsed as the client parses it, renders as reviewed."""
    clock = [T0]
    world = World(seed=7, clock=lambda: clock[0])
    workflow_name = SCENARIOS[scenario].workflow_name
    workflow_id = world.add_workflow(workflow_name, scenario=scenario)
    execution_id = world.start_execution(workflow_id)
    clock[0] = T0 + after
    detail = ExecutionDetail.model_validate(world.execution_json(workflow_id, execution_id))
    now = datetime.fromtimestamp(clock[0], tz=UTC)
    rendered = _message_json(
        detail,
        now,
        workflow_name=workflow_name,
        following=not detail.is_terminal,
        console_url=CONSOLE.format(w=workflow_id, e=execution_id),
    )
    _compare(f"message_sim_{scenario}_{after}s.json", rendered)
