"""The audit log line: one line of ``key=value`` IDs that no user name can break or forge."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

import pytest

from aom_bot.action_records import ActionKind, ActionOutcome, NewAuditEntry
from aom_bot.audit_log import audit_log_line, audit_record, log_value, parse_since

T0 = datetime(2025, 3, 1, 14, 3, tzinfo=UTC)


def entry(**overrides: object) -> NewAuditEntry:
    values: dict[str, object] = {
        "at": T0,
        "user_id": "U012AB",
        "user_name": "Ada Lovelace",
        "channel_id": "C01",
        "profile": "prod",
        "action": ActionKind.TERMINATE,
        "workflow_id": "wf-1",
        "execution_id": "e3f0a1",
        "node_id": None,
        "outcome": ActionOutcome.DONE,
        "aom_request_id": "req-9",
        "detail": "412 hosts still running; token=abc",
    }
    values.update(overrides)
    return NewAuditEntry(**values)  # type: ignore[arg-type]


def fields(line: str) -> dict[str, str]:
    """The line read back as a log parser would (shell-like quoting)."""
    event, *pairs = shlex.split(line)
    assert event == "action.audit"
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_line_names_every_id_and_the_outcome() -> None:
    line = audit_log_line(entry())
    assert line == (
        'action.audit action=terminate outcome=done user=U012AB user_name="Ada Lovelace"'
        " channel=C01 profile=prod workflow=wf-1 execution=e3f0a1 node=- aom_request_id=req-9"
    )


def test_detail_never_reaches_the_log() -> None:
    """``detail`` is for people; the log line carries IDs only."""
    line = audit_log_line(entry())
    assert "412 hosts" not in line
    assert "token" not in line


def test_run_names_the_new_execution_and_missing_ids_are_dashes() -> None:
    line = audit_log_line(
        entry(
            action=ActionKind.RUN,
            execution_id=None,
            aom_request_id=None,
            outcome=ActionOutcome.UNKNOWN,
            result_execution_id="ex-new",
        )
    )
    got = fields(line)
    assert (got["action"], got["outcome"]) == ("run", "unknown")
    assert (got["execution"], got["aom_request_id"], got["node"]) == ("-", "-", "-")
    assert got["result_execution"] == "ex-new"


@pytest.mark.parametrize(
    "name",
    [
        'Mallory" outcome=denied user="U999',
        "Eve\noutcome=done action.audit forged=1",
        "back\\slash \u2028 line sep \x1b[31m red",
        "\u202eevil bidi",
    ],
)
def test_no_user_name_can_end_the_line_or_forge_a_field(name: str) -> None:
    """Quotes, newlines, escapes and control characters in a display name stay inside it."""
    line = audit_log_line(entry(user_name=name))
    assert "\n" not in line
    assert "\u2028" not in line
    assert "\x1b" not in line
    assert "\u202e" not in line
    got = fields(line)
    assert (got["outcome"], got["user"], got["action"]) == ("done", "U012AB", "terminate")
    assert "forged" not in got
    assert list(got) == [
        "action",
        "outcome",
        "user",
        "user_name",
        "channel",
        "profile",
        "workflow",
        "execution",
        "node",
        "aom_request_id",
    ]


def test_a_long_name_is_cut() -> None:
    got = fields(audit_log_line(entry(user_name="n" * 500)))
    assert len(got["user_name"]) <= 80


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "-"),
        ("", "-"),
        ("-", '"-"'),
        ("U012AB", "U012AB"),
        ("2d4f-ab.c:1/x@y", "2d4f-ab.c:1/x@y"),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("tab\there", '"tab\\u0009here"'),
        ("数据", '"数据"'),
    ],
)
def test_log_value_quotes_only_what_is_not_a_plain_id(value: str | None, shown: str) -> None:
    assert log_value(value) == shown


# ---- --since and --json ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("90s", timedelta(seconds=90)),
        (" 24H ", timedelta(hours=24)),
        ("0m", timedelta(0)),
    ],
)
def test_since_takes_a_duration_back_from_now(text: str, back: timedelta) -> None:
    assert parse_since(text, now=T0) == T0 - back


def test_since_takes_an_iso_time_in_utc_unless_it_names_an_offset() -> None:
    assert parse_since("2025-03-01T14:00Z", now=T0) == datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
    assert parse_since("2025-03-01T14:00", now=T0) == datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
    eight = parse_since("2025-03-01T22:00+08:00", now=T0)
    assert (eight, eight.tzinfo) == (datetime(2025, 3, 1, 14, 0, tzinfo=UTC), UTC)
    assert parse_since("2025-03-01", now=T0) == datetime(2025, 3, 1, tzinfo=UTC)


def test_since_never_reaches_before_1970() -> None:
    """A huge duration or an ancient year means "everything", not an overflow."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_since("999999d", now=T0) == epoch
    assert parse_since("0900-01-01", now=T0) == epoch


@pytest.mark.parametrize("text", ["", "5x", "yesterday", "24", "-1h", "1.5h", "2025-13-01"])
def test_since_refuses_anything_else_saying_what_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match=r"neither a duration \(30m, 24h, 7d\) nor an ISO time"):
        parse_since(text, now=T0)


def test_the_json_record_has_exactly_the_documented_fields() -> None:
    record = audit_record(entry(action=ActionKind.RUN, execution_id=None, result_execution_id="x"))
    assert list(record) == [
        "at",
        "user_id",
        "user_name",
        "channel_id",
        "profile",
        "action",
        "workflow_id",
        "execution_id",
        "node_id",
        "outcome",
        "aom_request_id",
        "detail",
        "result_execution_id",
    ]
    assert record["at"] == "2025-03-01T14:03:00Z"
    assert (record["action"], record["execution_id"], record["result_execution_id"]) == (
        "run",
        None,
        "x",
    )
