"""What an action button carries and says, as pure functions: values within Slack's limits,
untrusted text escaped, forged values refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from aom_bot.action_records import ActionKind, ActionOutcome
from aom_bot.errors import InvalidIdError
from aom_bot.operations import (
    MAX_REQUESTS,
    ActionTarget,
    card_buttons,
    confirm_text,
    outcome_line,
)
from aom_bot.profiles import Permission
from aom_bot.profiles.model import ACTIONS
from aom_bot.render.action_buttons import OPTION_VALUE_MAX, action_elements
from aom_bot.render.escape import Mrkdwn
from tests.fakes.block_kit import validate_blocks
from tests.render.factories import execution, host, node

NOW = datetime(2024, 3, 15, 14, 3, tzinfo=UTC)
HOSTILE = "<!channel> *deploy* <@U0EVIL> <https://evil.example|click> & `x`"
LONGEST_ID = "a" + "b" * 127  # AOM IDs are at most 128 characters


def _target(**changes: object) -> ActionTarget:
    values: dict[str, object] = {
        "kind": ActionKind.TERMINATE,
        "profile": "prod",
        "workflow_id": "wf-1",
        "execution_id": "ex-1",
        "node_id": None,
        "version": "t",
    }
    values.update(changes)
    return ActionTarget(**values)  # type: ignore[arg-type]


def test_a_request_number_travels_in_the_value_but_not_in_the_key() -> None:
    """Each two-person request has its own key; the action itself keeps one."""
    second = _target(request=2)
    assert ActionTarget.decode(second.encode()) == second
    assert second.key == _target().key
    assert second.approval_key == _target().key + "#2"
    assert '"r"' not in _target().encode()


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "[]",
        json.dumps({"k": "terminate", "p": "prod", "w": "wf/../x", "e": "ex", "v": "t"}),
        json.dumps({"k": "explode", "p": "prod", "w": "wf", "e": "ex", "v": "t"}),
        json.dumps({"k": "terminate", "p": "p" * 65, "w": "wf", "e": "ex", "v": "t"}),
        json.dumps({"k": "terminate", "p": "prod", "w": "wf", "e": "ex", "v": "t", "r": "0"}),
        json.dumps(
            {"k": "terminate", "p": "prod", "w": "wf", "e": "ex", "v": "t", "r": MAX_REQUESTS + 1}
        ),
    ],
)
def test_a_forged_value_is_refused(value: str) -> None:
    with pytest.raises(InvalidIdError):
        ActionTarget.decode(value)


def test_buttons_fit_slack_with_the_longest_ids() -> None:
    """128-character IDs and a 64-character profile: every value fits a button (2,000);
    Skip, too long for an overflow option (150), becomes a plain button; Block Kit accepts it."""
    failed = execution(
        node(LONGEST_ID, status="fail", fail=[host(1)]),
        status="fail",
        workflow_id=LONGEST_ID,
        execution_id=LONGEST_ID,
    )
    buttons = card_buttons(failed, profile="p" * 64, permitted=ACTIONS, workflow_name=HOSTILE)
    assert {b.action_id for b in buttons} == {"aom_exec.retry", "aom_exec.skip", "aom_exec.run"}
    assert all(len(b.value) <= 2000 for b in buttons)
    skip = next(b for b in buttons if b.action_id == "aom_exec.skip")
    assert len(skip.value) > OPTION_VALUE_MAX
    elements = action_elements(buttons)
    assert [e["type"] for e in elements] == ["button"] * 3
    assert validate_blocks([{"type": "actions", "elements": elements}]).ok


def test_skip_sits_beside_retry_as_an_overflow_menu() -> None:
    failed = execution(node("n-1", status="fail", fail=[host(1)]), status="fail")
    elements = action_elements(
        card_buttons(failed, profile="prod", permitted=ACTIONS, workflow_name="deploy")
    )
    assert [(e["type"], e["action_id"]) for e in elements] == [
        ("button", "aom_exec.retry"),
        ("overflow", "aom_exec.skip"),
        ("button", "aom_exec.run"),
    ]
    assert validate_blocks([{"type": "actions", "elements": elements}]).ok


def test_only_permitted_actions_get_a_button() -> None:
    failed = execution(node("n-1", status="fail", fail=[host(1)]), status="fail")
    buttons = card_buttons(
        failed, profile="prod", permitted=frozenset({Permission.RUN}), workflow_name=None
    )
    assert [b.action_id for b in buttons] == ["aom_exec.run"]


def test_a_hostile_workflow_name_is_escaped_and_the_dialog_fits() -> None:
    """A name from AOM cannot mention, link or format: escaped, cut to fit 300."""
    running = execution(
        node("n-1", status="running", in_execution=[host(1), host(2)]),
        status="running",
        ended=False,
    )
    text = confirm_text(_target(), running, HOSTILE * 20)
    assert "<!channel>" not in text
    assert "<@U0EVIL>" not in text
    assert "<https://" not in text
    assert "2 hosts are still running" in text
    assert len(text) <= 300
    assert re.sub(r"&(amp|lt|gt);", "", text).count("&") == 0  # no entity cut in half


def test_the_outcome_line_escapes_what_aom_said() -> None:
    line = outcome_line(
        _target(), ActionOutcome.FAILED, user_id="U0ALICE", at=NOW, now=NOW, why=HOSTILE
    )
    assert isinstance(line, Mrkdwn)  # a card may show it as its notice as is
    assert line.startswith("⚠️ <@U0ALICE>'s terminate failed at ")
    assert "<!channel>" not in line
    assert "<@U0EVIL>" not in line


def test_done_reads_as_the_issue_says() -> None:
    line = outcome_line(_target(), ActionOutcome.DONE, user_id="U0ALICE", at=NOW, now=NOW)
    assert line == "🛑 Terminated by <@U0ALICE> at <!date^1710511380^{time}|14:03 UTC>."
