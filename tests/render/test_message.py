"""The execution card: content people rely on, Slack's limits, safety, honest truncation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from aom_bot.aom.models import ExecutionDetail, ExecutionStatus
from aom_bot.render import execution_message, short_summary
from aom_bot.render.actions import (
    ACTION_CONSOLE,
    ACTION_FOLLOW,
    ACTION_REFRESH,
    ACTION_REPORT,
    ACTION_UNFOLLOW,
    decode_ref,
)
from aom_bot.render.analysis import bucket_counts
from aom_bot.render.limits import utf16_len
from aom_bot.render.scrub import Scrubber
from tests.render.checks import (
    all_text,
    assert_inert,
    assert_valid,
    failed_accounting,
    footer_numbers,
    texts,
)
from tests.render.factories import execution, host, load_fixture, mass_failure, node
from tests.render.strategies import INJECTIONS, SECRETS, executions

NOW = datetime(2024, 3, 15, 8, 12, 0, tzinfo=UTC)


def _buttons(message: Any) -> dict[str, dict[str, Any]]:
    return {
        e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    }


def test_f3_card_shows_what_an_operator_needs() -> None:
    """Status, name, counts, each failed host with IP and AZ, errors and log excerpts."""
    message = execution_message(
        load_fixture("f3_failed.json"), now=NOW, workflow_name="deploy-nginx"
    )
    assert_valid(message)
    assert message.text == "❌ fail · deploy-nginx · 5/6 hosts failed"
    assert message.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "❌ Fail · deploy-nginx", "emoji": True},
    }
    text = all_text(message)
    for expected in (
        "`web-02` 192.168.0.12 · cn-north-4b",
        "`数据库-主节点-01`",
        "exit code 28",
        "agent is offline",
        "No space left on device",
        "[patch] yum failed",
        "✅ 1 succeeded · ❌ 5 failed",
        "updated <!date^1710490320^{time_secs}|08:12:00 UTC>",
        "⏱ took 1m 35s",
    ):
        assert expected in text
    assert failed_accounting(message) == (5, 0)
    assert footer_numbers(message) is None


@pytest.mark.parametrize(
    ("raw", "header_start"),
    [
        ("executing", "🔄 Executing"),
        ("waitExecute", "⏳ Waiting"),
        ("waitApproval", "✋ Waiting for approval"),
        ("approvalFailed", "⛔ Approval failed"),
        ("pausing", "⏸️ Pausing"),
        ("paused", "⏸️ Paused"),
        ("canceling", "🛑 Cancelling"),
        ("cancel", "🚫 Cancelled"),
        ("success", "✅ Success"),
        ("fail", "❌ Fail"),
        ("Frobnicating", "❔ Frobnicating"),
        ("", "❔ Unknown"),
    ],
)
def test_every_status_has_its_own_header(raw: str, header_start: str) -> None:
    """Each AOM status gets an emoji and words; unknown ones show AOM's raw text."""
    message = execution_message(execution(node(), status=raw), now=NOW, workflow_name="wf")
    assert message.blocks[0]["text"]["text"] == f"{header_start} · wf"


def test_statuses_table_covers_the_enum() -> None:
    """A status added to the model without wording would break the card."""
    for status in ExecutionStatus:
        execution_message(ExecutionDetail(status=status), now=NOW)


def test_running_card_has_progress_elapsed_and_follow() -> None:
    """While it runs: a progress bar, elapsed time, a Follow button, nothing counted as success."""
    detail = load_fixture("f1_running.json")
    message = execution_message(detail, now=NOW)
    assert_valid(message)
    text = all_text(message)
    assert "`██░░░░░░░░ 20%` done (1/5)" in text
    assert "running for 2m 00s" in text
    assert "✅ 1 succeeded" in text
    assert "🔄 2 running" in text
    assert "⚪ 2 not performed" in text
    assert message.text.endswith("1/5 hosts done")
    buttons = _buttons(message)
    assert set(buttons) == {ACTION_REFRESH, ACTION_FOLLOW, ACTION_REPORT}
    assert decode_ref(buttons[ACTION_FOLLOW]["value"]) == (detail.workflow_id, detail.execution_id)


def test_following_card_offers_stop_and_console_link() -> None:
    """following=True swaps Follow for Stop following; a console URL adds a link button."""
    message = execution_message(
        load_fixture("f1_running.json"),
        now=NOW,
        following=True,
        console_url="https://console.example/e1",
    )
    buttons = _buttons(message)
    assert ACTION_UNFOLLOW in buttons
    assert ACTION_FOLLOW not in buttons
    assert buttons[ACTION_CONSOLE]["url"] == "https://console.example/e1"


def test_finished_card_has_no_follow_button_and_no_console_without_template() -> None:
    """Nothing to follow once terminal; no console URL means no console button."""
    buttons = _buttons(execution_message(load_fixture("f2_success.json"), now=NOW))
    assert set(buttons) == {ACTION_REFRESH, ACTION_REPORT}
    assert buttons[ACTION_REPORT]["text"]["text"] == "Full report"


def test_approvers_and_notice_are_in_the_context() -> None:
    """Who must approve, and the follow engine's notice, are visible under the header."""
    detail = execution(
        node("approve", status="waitApproval"),
        status="waitApproval",
        ended=False,
        approve_user_name_list=["alice", "bob"],
    )
    message = execution_message(
        detail, now=NOW, notice="AOM unreachable since 10:42 UTC — retrying"
    )
    context = " ".join(t for t in (e["text"] for e in message.blocks[1]["elements"]))
    assert "Awaiting approval from alice, bob" in context
    assert "⚠️ AOM unreachable since 10:42 UTC — retrying" in context


def test_multi_node_card_shows_each_node() -> None:
    """Several nodes: each node's status and buckets; raw outputs are shown, escaped."""
    detail = execution(
        node("prepare", status="success", success=[host(1), host(2)]),
        {"node_id": "approve", "status": "success", "output": {"approver": "<!here> carol"}},
        node("deploy", status="fail", success=[host(1)], fail=[host(2, log="boom", exit_code="1")]),
    )
    message = execution_message(detail, now=NOW)
    assert_valid(message)
    assert_inert(message)
    nodes = next(
        b["text"]["text"]
        for b in message.blocks
        if b["type"] == "section" and b["text"]["text"].startswith("*Nodes*")
    )
    assert "`prepare` ✅ success — ✅ 2" in nodes
    assert "`deploy` ❌ fail — ✅ 1 · ❌ 1" in nodes
    assert "carol" in nodes


def test_mass_failure_is_grouped_largest_first_with_more_counts() -> None:
    """2,000 hosts, 600 failing three ways: three groups, each with '+N more hosts'."""
    detail = mass_failure(2000, 600, groups=3)
    message = execution_message(detail, now=NOW, workflow_name="patch")
    assert_valid(message)
    assert message.text == "❌ fail · patch · 600/2000 hosts failed"
    listed, counted = failed_accounting(message)
    assert listed + counted == 600
    assert footer_numbers(message) == (listed, 600, 600 - listed)
    heads = [
        b["text"]["text"].split("\n")[0]
        for b in message.blocks
        if b["type"] == "section" and b["text"]["text"].startswith("*❌")
    ]
    assert heads == [
        "*❌ 200 hosts · exit code 1*",
        "*❌ 200 hosts · exit code 2*",
        "*❌ 200 hosts · exit code 3*",
    ]


def test_zonal_blast_radius_is_said() -> None:
    """A group concentrated in one AZ says so on the card."""
    fails = [host(i, zone="cn-north-4b", log="timeout", exit_code="1") for i in range(8)]
    ok = [host(i, zone="cn-north-4a", log="ok") for i in range(10, 30)]
    message = execution_message(execution(node(fail=fails, success=ok)), now=NOW)
    assert "⚠️ Zonal blast radius: 8 of 8 in *cn-north-4b*" in all_text(message)


def test_many_groups_and_ten_thousand_hosts_stay_within_limits() -> None:
    """10,000 hosts failing 300 different ways: valid, and every failed host accounted for."""
    fails = [
        host(
            i, log=f"step\nfailure kind {chr(65 + i % 26)}{chr(65 + (i // 26) % 12)}", exit_code="1"
        )
        for i in range(3000)
    ]
    ok = [host(i) for i in range(3000, 10_000)]
    message = execution_message(execution(node(fail=fails, success=ok)), now=NOW)
    assert_valid(message)
    listed, counted = failed_accounting(message)
    assert listed + counted == 3000
    assert "more error groups" in all_text(message)


def test_long_logs_are_cut_to_the_last_lines() -> None:
    """A 100 KB log shows its end (where the error is), inside the section limit."""
    log = "".join(f"progress line {i}\n" for i in range(6000)) + "FATAL: the real error"
    message = execution_message(execution(node(fail=[host(1, log=log, exit_code="1")])), now=NOW)
    assert_valid(message)
    section = next(
        b["text"]["text"]
        for b in message.blocks
        if b["type"] == "section" and "FATAL" in b["text"]["text"]
    )
    assert section.rstrip("`\n").endswith("FATAL: the real error")
    assert "progress line 5999" in section
    assert "progress line 100\n" not in section


def test_hostile_text_everywhere_is_inert() -> None:
    """Mentions, links, entities and fences in every AOM field cannot ping or link."""
    evil = " ".join(INJECTIONS)
    detail = execution(
        node(
            evil,
            fail=[host(1, name=evil, ip=evil, zone=evil, log=evil, error_msg=evil, exit_code="1")],
        ),
        status=evil,
        execution_id=evil,
        approve_user_name_list=[evil],
        created_by=evil,
    )
    message = execution_message(detail, now=NOW, workflow_name=evil, notice=evil)
    assert_valid(message)
    assert_inert(message)


def test_planted_secrets_never_reach_the_card() -> None:
    """AK/SK, tokens, passwords, keys and URL credentials are redacted wherever they appear."""
    planted = "\n".join(text for text, _ in SECRETS)
    detail = execution(
        node(fail=[host(1, name="db-01", log=planted, error_msg=planted, exit_code="1")]),
        created_by=planted,
    )
    message = execution_message(detail, now=NOW, workflow_name=planted, notice=planted)
    rendered = all_text(message)
    for _, secret in SECRETS:
        assert secret not in rendered
    assert "[redacted]" in rendered


def test_scrubbing_can_be_switched_off() -> None:
    """A disabled scrubber shows raw text (for operators who opt out)."""
    detail = execution(node(fail=[host(1, log="mysql -phunter2", exit_code="1")]))
    shown = all_text(execution_message(detail, now=NOW, scrubber=Scrubber(enabled=False)))
    assert "-phunter2" in shown


def test_rendering_is_deterministic() -> None:
    """Same input and same `now` give exactly the same message (golden-file friendly)."""
    detail = mass_failure(300, 40)
    assert execution_message(detail, now=NOW) == execution_message(detail, now=NOW)


def test_empty_execution_renders() -> None:
    """No ids, no nodes, no times: still a valid card with no buttons that would not work."""
    message = execution_message(ExecutionDetail.model_validate({}), now=NOW)
    assert_valid(message)
    assert all(b["type"] != "actions" for b in message.blocks)


def test_short_summary_variants() -> None:
    """The notification line for finished, successful and running executions."""
    assert short_summary(load_fixture("f2_success.json"), workflow_name="disk") == (
        "✅ success · disk · 3/3 hosts succeeded"
    )
    assert short_summary(load_fixture("f1_running.json")) == (
        "🔄 executing · 7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b · 1/5 hosts done"
    )
    assert (
        short_summary(ExecutionDetail(status=ExecutionStatus.WAIT_APPROVAL, execution_id="e9"))
        == "✋ waiting for approval · e9"
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=executions())
def test_any_execution_renders_a_valid_safe_honest_card(raw: dict[str, Any]) -> None:
    """Property: for generated executions the card is valid for Slack and for our checker,
    inert, free of planted secrets, and accounts for every failed host exactly."""
    detail = ExecutionDetail.model_validate(raw)
    message = execution_message(
        detail,
        now=NOW,
        workflow_name=raw.get("workflow_id"),
        notice="retrying",
        console_url="https://console.example/x",
    )
    assert_valid(message)
    assert_inert(message)
    rendered = all_text(message)
    for _, secret in SECRETS:
        assert secret not in rendered
    failed = bucket_counts(detail).failed
    listed, counted = failed_accounting(message)
    assert listed + counted == failed
    footer = footer_numbers(message)
    if listed < failed:
        assert footer == (listed, failed, failed - listed)
    assert utf16_len(message.text) <= 4000
    assert all(t for _, t in texts(message.blocks))


def test_naive_now_is_taken_as_utc() -> None:
    """A naive `now` (no tzinfo) does not crash the elapsed-time arithmetic."""
    naive = execution_message(load_fixture("f1_running.json"), now=NOW.replace(tzinfo=None))
    assert naive == execution_message(load_fixture("f1_running.json"), now=NOW)


def test_card_times_are_shown_in_each_readers_time_zone() -> None:
    """Started, ended and "updated" use Slack date tags with a UTC fallback; the
    notification text stays plain, and a run of another day shows its date."""
    detail = load_fixture("f3_failed.json")
    message = execution_message(detail, now=NOW)
    context = " ".join(e["text"] for e in message.blocks[1]["elements"])
    assert "Started <!date^1710490200^{time}|08:10 UTC>" in context
    assert "Ended <!date^1710490295^{time}|08:11 UTC>" in context
    assert "updated <!date^1710490320^{time_secs}|08:12:00 UTC>" in context
    assert "<" not in message.text
    next_day = execution_message(detail, now=datetime(2024, 3, 16, 9, tzinfo=UTC))
    context = " ".join(e["text"] for e in next_day.blocks[1]["elements"])
    assert "Started <!date^1710490200^{date_short_pretty} {time}|2024-03-15 08:10 UTC>" in context


def test_a_bot_written_notice_keeps_its_date_tag_but_aom_text_is_escaped() -> None:
    """The follow engine's notice (bot mrkdwn) shows the reader's time; a plain str notice,
    which may carry AOM text, is still escaped."""
    from aom_bot.follow.policy import unreachable_notice

    detail = load_fixture("f1_running.json")
    since = datetime(2024, 3, 15, 8, 11, tzinfo=UTC)
    message = execution_message(detail, now=NOW, notice=unreachable_notice(since))
    context = " ".join(e["text"] for e in message.blocks[1]["elements"])
    assert "⚠️ AOM unreachable since <!date^1710490260^{time}|08:11 UTC> — retrying" in context
    plain = execution_message(detail, now=NOW, notice="<!channel> since 08:11")
    assert "&lt;!channel&gt;" in " ".join(e["text"] for e in plain.blocks[1]["elements"])
