"""The audit log line: one line of ``key=value`` IDs that no user name can break or forge."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

import pytest

from aom_bot.action_records import ActionKind, ActionOutcome, NewAuditEntry
from aom_bot.audit_log import audit_log_line, log_value

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
