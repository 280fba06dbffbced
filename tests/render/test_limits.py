"""Length counting, honest clipping, and the limit checker."""

from __future__ import annotations

from aom_bot.render.escape import code_block, escape_mrkdwn
from aom_bot.render.kit import actions, button, context, header, section
from aom_bot.render.limits import (
    BLOCKS_MAX,
    TOTAL_TEXT_BUDGET,
    check_message,
    clip,
    clip_rendered,
    utf16_len,
)


def test_utf16_counts_astral_characters_twice() -> None:
    """Emoji outside the BMP count as two units; CJK and combining marks as one each."""
    assert utf16_len("abc") == 3
    assert utf16_len("🔥") == 2
    assert utf16_len("数据") == 2
    assert utf16_len("e\u0301") == 2


def test_clip_marks_what_it_cut() -> None:
    """A clipped text ends in an ellipsis and fits; an unclipped one is unchanged."""
    assert clip("hello", 10) == "hello"
    out = clip("🔥" * 100, 11)
    assert out.endswith("…")
    assert utf16_len(out) <= 11


def test_clip_rendered_never_cuts_an_entity() -> None:
    """Clipping happens before escaping, so '&amp;' is never cut into '&am'."""
    for limit in range(1, 40):
        out = clip_rendered("&<>" * 20, limit, escape_mrkdwn)
        assert utf16_len(out) <= limit
        stripped = out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
        assert "&" not in stripped


def test_clip_rendered_tail_keeps_the_end_of_a_log() -> None:
    """Log excerpts keep the last lines, where errors are, and mark the cut at the start."""
    log = "\n".join(f"line {i}" for i in range(1000))
    out = clip_rendered(log, 200, code_block, tail=True)
    assert utf16_len(out) <= 200
    assert out.rstrip("`\n").endswith("line 999")
    assert out.startswith("```\n…")


def test_checker_accepts_a_small_valid_message() -> None:
    """A message within every limit has no problems."""
    blocks = [header("ok"), context("a"), section("b"), actions(button("Go", "x.go", value="1"))]
    assert check_message("fallback", blocks) == []


def test_checker_reports_each_kind_of_violation() -> None:
    """Over-long header/section/button, too many blocks, duplicate action ids, total text."""
    blocks = [header("h" * 151), section("s" * 3001)]
    blocks.append(actions(button("b" * 76, "a"), button("ok", "a")))
    blocks += [section("x" * 2000) for _ in range(BLOCKS_MAX)]
    problems = "\n".join(check_message("", blocks))
    for expected in (
        "header",
        "section text over",
        "button text",
        "duplicate action_id",
        "blocks, over",
        "total block text",
        "fallback text is empty",
    ):
        assert expected in problems
    assert f"{TOTAL_TEXT_BUDGET}" in problems
