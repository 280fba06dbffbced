"""List messages: executions of a workflow and workflows, with Show buttons."""

from __future__ import annotations

from datetime import UTC, datetime

from aom_bot.aom.models import ExecutionDetail, Workflow
from aom_bot.render.actions import ACTION_SHOW, decode_ref
from aom_bot.render.lists import MAX_ROWS, executions_message, workflows_message
from tests.render.checks import assert_inert, assert_valid, texts
from tests.render.factories import WORKFLOW_ID, execution, node

NOW = datetime(2024, 3, 15, 8, 12, tzinfo=UTC)


def _rows(message: object) -> list[dict[str, object]]:
    return [b for b in message.blocks if b.get("accessory")]  # type: ignore[attr-defined]


def test_executions_newest_first_with_show_buttons() -> None:
    """Each row carries a Show button whose value decodes to the row's execution."""
    runs = [
        execution(node(), execution_id=f"e-{i}", begin_time=1710490200000 + i * 60_000)
        for i in range(5)
    ]
    message = executions_message(WORKFLOW_ID, runs, limit=3, now=NOW)
    assert_valid(message)
    rows = _rows(message)
    assert len(rows) == 3
    refs = [decode_ref(r["accessory"]["value"]) for r in rows]  # type: ignore[index]
    assert [e for _, e in refs] == ["e-4", "e-3", "e-2"]
    assert all(r["accessory"]["action_id"] == ACTION_SHOW for r in rows)  # type: ignore[index]
    assert "Showing 3 of 5 executions; +2 more" in " ".join(t for _, t in texts(message.blocks))


def test_huge_execution_lists_stay_within_limits() -> None:
    """A thousand executions and a huge limit: capped rows, counted remainder."""
    runs = [execution(node(), execution_id=f"e-{i}") for i in range(1000)]
    message = executions_message(WORKFLOW_ID, runs, limit=10_000, now=NOW)
    assert_valid(message)
    assert len(_rows(message)) <= MAX_ROWS


def test_empty_list_says_so() -> None:
    """No executions: a clear line instead of an empty message."""
    message = executions_message(WORKFLOW_ID, [], limit=10, now=NOW)
    assert_valid(message)
    assert "No executions found" in message.blocks[1]["text"]["text"]


def test_workflows_filtered_and_hostile_names_inert() -> None:
    """The filter matches name or id case-insensitively; names cannot ping anyone."""
    workflows = [
        Workflow.model_validate(
            {"id": "wf-1", "name": "deploy-nginx", "status": "fail", "last_execution_id": "e-1"}
        ),
        Workflow.model_validate({"id": "wf-2", "name": "<!channel> rotate logs"}),
        Workflow.model_validate({"id": "wf-3", "name": "backup"}),
    ]
    message = workflows_message(workflows, filter_text="NGINX", now=NOW)
    assert_valid(message)
    assert len(_rows(message)) == 1
    assert decode_ref(_rows(message)[0]["accessory"]["value"]) == ("wf-1", "e-1")  # type: ignore[index]
    everything = workflows_message(workflows, filter_text="", now=NOW)
    assert_valid(everything)
    assert_inert(everything)
    assert everything.text == "3 workflows"


def test_execution_rows_from_garbage_do_not_crash() -> None:
    """Executions without ids or times still list, just without a button."""
    message = executions_message("", [ExecutionDetail.model_validate({})], limit=5, now=NOW)
    assert_valid(message)


def test_list_rows_show_start_times_in_each_readers_zone() -> None:
    """A row's start time is a Slack date tag (reader's zone) with the UTC time as fallback."""
    message = executions_message(WORKFLOW_ID, [execution(node())], limit=5, now=NOW)
    rows = " ".join(t for _, t in texts(message.blocks))
    assert "started <!date^1710490200^{time}|08:10 UTC>" in rows
    assert_inert(message)
