"""Odd node outputs end to end: the failed hosts reach the card, the terminal, the report and
the exit code, whatever the sibling buckets hold and whatever the status says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aom_bot.aom.models import ExecutionDetail
from aom_bot.cli import ExitCode, execution_exit_code
from aom_bot.render import execution_message
from aom_bot.render.report import report_text
from aom_bot.render.terminal import render_execution
from tests.render.checks import all_text, assert_inert, assert_valid
from tests.render.factories import BEGIN_MS, WORKFLOW_ID, host
from tests.render.test_terminal import _plain

NOW = datetime(2024, 3, 15, 8, 12, tzinfo=UTC)
ODD = st.sampled_from([None, {"count": "1"}, "1", 0, ["x"], "MISSING"])
STATUSES = st.sampled_from(["fail", "success", "executing", "weird-new-status", "", "paused"])


@st.composite
def odd_executions(draw: st.DrawFn) -> tuple[ExecutionDetail, int, int]:
    """An execution with two failed hosts, an extra bucket of hosts and odd siblings;
    with the number of failed hosts and of hosts in the unknown bucket."""
    output: dict[str, Any] = {
        "success": [host(1)] if draw(st.booleans()) else draw(ODD),
        "fail": [host(2, error_msg="disk full"), host(3, error_msg="disk full")],
    }
    for name in ("in_execution", "not_performed"):
        output[name] = draw(st.one_of(ODD, st.just([])))
    skipped = draw(st.integers(0, 2))
    if skipped:
        output["skipped"] = [host(10 + i) for i in range(skipped)]
    if draw(st.booleans()):
        output["future_bucket_meta"] = {"count": "1"}
    output = {k: v for k, v in output.items() if v != "MISSING"}
    raw = {
        "workflow_id": WORKFLOW_ID,
        "execution_id": "e-0001",
        "status": draw(STATUSES),
        "begin_time": BEGIN_MS,
        "execution_result_list": [{"node_id": "run", "status": "fail", "output": output}],
    }
    return ExecutionDetail.model_validate(raw), 2, skipped


@given(odd_executions())
def test_failed_hosts_survive_odd_buckets_everywhere(case: tuple[ExecutionDetail, int, int]):
    """Card, notification text, terminal and report all count and name the failed hosts;
    hosts in an unknown bucket are counted and kept; the exit code is 1."""
    detail, failed, skipped = case
    message = execution_message(detail, now=NOW)
    assert_valid(message)
    assert_inert(message)
    text = all_text(message)
    assert "No host results" not in text
    assert f"❌ {failed} failed" in text
    assert "web-0002" in text
    assert "web-0003" in text
    assert f"{failed} failed" in message.text or f"{failed}/" in message.text
    if skipped:
        assert f"❔ {skipped} in other buckets" in text
        assert "`skipped`" in text

    terminal = _plain(render_execution(detail, now=NOW))
    assert "no host results" not in terminal
    assert "web-0002" in terminal
    assert f"❌ {failed} failed" in terminal

    report = report_text(detail, now=NOW)
    for i in (2, 3, *range(10, 10 + skipped)):
        assert f"web-{i:04d}" in report
    if skipped:
        assert f"{skipped} in other buckets" in report
        assert "[skipped]" in report

    assert execution_exit_code(detail) is ExitCode.FAILED


def test_unknown_status_with_failed_hosts_reads_as_failed():
    """A status nobody knows does not make failed hosts neutral: ❌, and they lead the text."""
    raw = {
        "workflow_id": WORKFLOW_ID,
        "execution_id": "e-0001",
        "status": "finishedWithErrors",
        "begin_time": BEGIN_MS,
        "execution_result_list": [
            {
                "node_id": "run",
                "output": {
                    "success": [host(1)],
                    "fail": [host(2, error_msg="x"), host(3, error_msg="y")],
                },
            }
        ],
    }
    detail = ExecutionDetail.model_validate(raw)
    message = execution_message(detail, now=NOW)
    assert message.text.startswith("❌ finishedWithErrors")
    assert message.text.endswith("2/3 hosts failed")
    assert message.blocks[0]["text"]["text"].startswith("❌ ")
    assert _plain(render_execution(detail, now=NOW)).startswith("❌ finishedWithErrors")
    assert execution_exit_code(detail) is ExitCode.FAILED
