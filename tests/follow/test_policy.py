"""The pure follow policy: poll intervals, jitter, what is new, what the replies say."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from aom_bot.aom.models import ExecutionDetail
from aom_bot.follow import policy
from aom_bot.render.analysis import BucketCounts, error_groups

NOW = datetime(2024, 3, 15, 8, 0, tzinfo=UTC)


@given(
    elapsed=st.floats(min_value=-10, max_value=1e7, allow_nan=False),
    minimum=st.floats(min_value=0.1, max_value=60),
    extra=st.floats(min_value=0, max_value=600),
)
def test_interval_stays_within_bounds(elapsed: float, minimum: float, extra: float) -> None:
    """Whatever the run's age, the interval is between the configured floor and ceiling."""
    interval = policy.poll_interval(elapsed, minimum=minimum, maximum=minimum + extra)
    assert minimum <= interval <= minimum + extra + 1e-9


def test_interval_is_quick_at_first_and_slower_for_long_runs() -> None:
    """Young runs are polled at the floor; hour-long runs at the ceiling; never faster later."""
    ages = [0, 30, 120, 300, 600, 1800, 3600, 86400]
    intervals = [policy.poll_interval(a, minimum=5, maximum=60) for a in ages]
    assert intervals[0] == 5
    assert intervals[-1] == 60
    assert intervals == sorted(intervals)


@given(interval=st.floats(min_value=0.1, max_value=3600), seed=st.integers(0, 2**32))
def test_jitter_only_lengthens_a_little(interval: float, seed: int) -> None:
    """Jitter never polls sooner than the interval (the floor holds) and adds at most 10 %."""
    value = policy.jittered(interval, random.Random(seed))
    assert interval <= value <= interval * 1.1 + 1e-9


def test_error_backoff_doubles_to_the_ceiling() -> None:
    """Repeated AOM failures back off 5, 10, 20, 40 s, then stay at the maximum."""
    waits = [policy.error_interval(n, minimum=5, maximum=60) for n in range(1, 7)]
    assert waits == [5, 10, 20, 40, 60, 60]


def test_new_groups_keeps_order_and_skips_announced() -> None:
    """Only signatures not announced yet are new, in order, each once."""
    assert policy.new_groups(["a", "b", "a", "c"], {"b"}) == ["a", "c"]


def test_update_kind_distinguishes_change_from_heartbeat() -> None:
    """A different display is a change; the same one only after the heartbeat period."""
    kind = policy.update_kind
    assert kind("x", "y", NOW, NOW, 300) is policy.UpdateKind.CHANGE
    assert kind("x", "x", NOW, NOW + timedelta(seconds=299), 300) is None
    assert kind("x", "x", NOW, NOW + timedelta(seconds=300), 300) is policy.UpdateKind.HEARTBEAT


def test_display_key_changes_with_the_notice() -> None:
    """The unreachable notice is part of what the card shows."""
    assert policy.display_key("f", None) != policy.display_key("f", "AOM unreachable")


def test_unreachable_notice_names_the_time_in_utc() -> None:
    """The notice says since when: in each reader's zone on Slack (UTC fallback), in UTC in
    the terminal."""
    epoch = int(NOW.timestamp())
    assert policy.unreachable_notice(NOW) == (
        f"AOM unreachable since <!date^{epoch}^{{time}}|08:00 UTC> — retrying"
    )
    assert policy.unreachable_notice(NOW, slack=False) == (
        "AOM unreachable since 08:00 UTC — retrying"
    )


def test_completion_text_for_a_failure() -> None:
    """The failure reply mentions the user and counts failed hosts and error groups."""
    text = policy.completion_text(
        mention="<@U123>",
        status="fail",
        failed=True,
        counts=BucketCounts(succeeded=188, failed=12),
        groups=3,
    )
    assert text == "<@U123> finished: fail — 12 of 200 hosts failed, 3 error groups"


def test_completion_text_for_a_success_escapes_the_workflow_name() -> None:
    """Workflow names from AOM cannot inject mentions into the reply."""
    text = policy.completion_text(
        mention=None,
        status="success",
        failed=False,
        counts=BucketCounts(succeeded=5),
        groups=0,
        workflow_name="<!channel> deploy",
    )
    assert "<!channel>" not in text
    assert text.endswith("finished: success — 5 of 5 hosts succeeded")


def test_new_failure_text_escapes_and_scrubs_aom_text() -> None:
    """A new-failure line shows hosts, exit code and the error, with AOM text made inert."""
    execution = ExecutionDetail.model_validate(
        {
            "status": "executing",
            "execution_result_list": [
                {
                    "node_id": "n1",
                    "status": "executing",
                    "output": {
                        "fail": [
                            {
                                "host_name": f"web-{i}",
                                "exit_code": "127",
                                "log": "sh: foo: not found <!here> password=hunter2",
                            }
                            for i in range(14)
                        ]
                    },
                }
            ],
        }
    )
    (group,) = error_groups(execution)
    text = policy.new_failure_text(group)
    assert text.startswith("new failure: 14 hosts · exit 127 · `")
    assert "foo: not found" in text
    assert "<!here>" not in text
    assert "&lt;!here&gt;" in text
    assert "hunter2" not in text
