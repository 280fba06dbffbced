"""Escaping of untrusted AOM text for mrkdwn, plain_text and terminals."""

from __future__ import annotations

import re

import pytest

from aom_bot.render.escape import (
    BACKTICK_LOOKALIKE,
    code_block,
    escape_mrkdwn,
    inline_code,
    plain_text_safe,
    strip_controls,
)

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123|@oncall>",
    "<@U123>",
    "<#C123>",
    "<https://evil.example|click here>",
    "<mailto:a@b.c|mail>",
    "&lt;!channel&gt;",
    "&#60;!here&#62;",
]


@pytest.mark.parametrize("attack", INJECTIONS)
def test_no_mention_or_link_survives_escaping(attack: str) -> None:
    """Slack control sequences come out as literal text: no raw '<' and no decodable entity."""
    out = escape_mrkdwn(f"before {attack} after")
    assert "<" not in out
    assert ">" not in out
    # every '&' we emit starts one of the three entities we produce ourselves
    assert re.sub(r"&(amp|lt|gt);", "", out).count("&") == 0


def test_escape_only_touches_the_three_characters() -> None:
    """Ordinary punctuation and unicode pass unchanged (Slack's rule: escape &, <, > only)."""
    text = "数据库-主节点-01 🔥 \"quoted\" 'x' 100% a_b*c~"
    assert escape_mrkdwn(text) == text


def test_at_mentions_get_a_word_joiner_but_emails_do_not() -> None:
    """'@here' cannot become a mention even with link_names; e-mail addresses stay intact."""
    out = escape_mrkdwn("ping @here and @channel, mail ops@example.com")
    assert "@here" not in out
    assert "@channel" not in out
    assert "ops@example.com" in out


def test_code_block_cannot_be_closed_by_the_log() -> None:
    """Backtick runs inside a log never produce a fence: the only ``` are ours."""
    out = code_block("a ``` b\n````\n`x`\n```")
    assert out.startswith("```\n")
    assert out.endswith("\n```")
    assert out.count("```") == 2
    assert BACKTICK_LOOKALIKE in out


def test_code_block_of_empty_text_is_still_a_block() -> None:
    """An empty log renders a visible placeholder, not an empty fence Slack would show raw."""
    assert code_block("") == "```\n(empty)\n```"


def test_inline_code_is_one_line_and_escaped() -> None:
    """Host names with newlines, backticks or angle brackets stay inside one code span."""
    out = inline_code("web`01\n<!here>")
    assert out.count("`") == 2
    assert "\n" not in out
    assert "<" not in out


def test_controls_and_ansi_sequences_are_removed() -> None:
    """Terminal escapes and bidi overrides cannot disguise text; CRLF becomes LF."""
    assert strip_controls("a\x1b[31mred\x1b[0m\r\nb\u202ec\x07") == "ared\nbc"


def test_plain_text_has_no_angle_brackets() -> None:
    """plain_text objects (headers, buttons) never carry '<' or '>'."""
    out = plain_text_safe("<!channel>\nx")
    assert "<" not in out
    assert ">" not in out
    assert "\n" not in out
