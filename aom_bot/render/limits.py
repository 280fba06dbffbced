"""Slack's size limits, conservative length counting, honest clipping, and a limit checker.

Slack's counting unit is undocumented (slack-platform.md §3), so lengths here are UTF-16 code
units: never fewer than code points, so a text that passes here passes Slack's check whichever
unit it uses. The total-text budget stays well below the ~12,000 characters at which Slack has
been seen to answer ``msg_blocks_too_long``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "ACTIONS_ELEMENTS_MAX",
    "ACTION_ID_MAX",
    "BLOCKS_MAX",
    "BLOCK_ID_MAX",
    "BUTTON_TEXT_MAX",
    "BUTTON_URL_MAX",
    "BUTTON_VALUE_MAX",
    "CONTEXT_ELEMENTS_MAX",
    "CONTEXT_TEXT_MAX",
    "ELLIPSIS",
    "FALLBACK_TEXT_MAX",
    "FIELDS_MAX",
    "FIELD_TEXT_MAX",
    "HEADER_TEXT_MAX",
    "SECTION_TEXT_BUDGET",
    "SECTION_TEXT_MAX",
    "TOTAL_TEXT_BUDGET",
    "TOTAL_TEXT_REJECTED",
    "check_message",
    "clip",
    "clip_rendered",
    "total_text_length",
    "utf16_len",
]

BLOCKS_MAX: Final = 50
HEADER_TEXT_MAX: Final = 150
SECTION_TEXT_MAX: Final = 3000
#: what this bot allows itself per section: a margin under SECTION_TEXT_MAX
SECTION_TEXT_BUDGET: Final = 2900
FIELDS_MAX: Final = 10
FIELD_TEXT_MAX: Final = 2000
CONTEXT_ELEMENTS_MAX: Final = 10
CONTEXT_TEXT_MAX: Final = 2000
ACTIONS_ELEMENTS_MAX: Final = 25
BUTTON_TEXT_MAX: Final = 75
BUTTON_VALUE_MAX: Final = 2000
BUTTON_URL_MAX: Final = 3000
ACTION_ID_MAX: Final = 255
BLOCK_ID_MAX: Final = 255
#: total block text at which Slack is known to reject a message (undocumented, observed)
TOTAL_TEXT_REJECTED: Final = 12_000
#: what this bot allows itself for all block text of one message
TOTAL_TEXT_BUDGET: Final = 10_000
#: the top-level ``text``: Slack advises ≤ 4,000; ours is a one-line summary
FALLBACK_TEXT_MAX: Final = 4000
ELLIPSIS: Final = "…"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: astral characters (most emoji) count twice."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int, *, marker: str = ELLIPSIS) -> str:
    """``text`` cut to at most ``limit`` UTF-16 units, ending in ``marker`` when cut."""
    return clip_rendered(text, limit, lambda s: s, marker=marker)


def clip_rendered(
    raw: str,
    limit: int,
    render: Callable[[str], str],
    *,
    tail: bool = False,
    marker: str = ELLIPSIS,
) -> str:
    """Render as much of ``raw`` as fits in ``limit`` UTF-16 units after ``render``.

    Cutting the *raw* text (then rendering) means an escape sequence such as ``&amp;`` or a code
    fence is never cut in half. ``tail`` keeps the end (log excerpts) instead of the start. The
    marker shows that something was left out. Returns "" when not even the marker fits.
    """
    whole = render(raw)
    if utf16_len(whole) <= limit:
        return whole

    def attempt(keep: int) -> str:
        if tail:
            return render(marker + raw[len(raw) - keep :] if keep else marker)
        return render(raw[:keep] + marker)

    # Rendered length grows with the kept length, so binary search the longest that fits.
    low, high = 0, min(len(raw), limit)
    while low < high:
        mid = (low + high + 1) // 2
        if utf16_len(attempt(mid)) <= limit:
            low = mid
        else:
            high = mid - 1
    best = attempt(low)
    return best if utf16_len(best) <= limit else ""


def _texts_of(obj: Any) -> Iterable[str]:
    """Every user-visible text string inside a block (text objects, nested)."""
    if isinstance(obj, Mapping):
        if obj.get("type") in ("plain_text", "mrkdwn") and isinstance(obj.get("text"), str):
            yield obj["text"]
            return
        for key, value in obj.items():
            if key not in ("action_id", "block_id", "value", "url", "type"):
                yield from _texts_of(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _texts_of(item)


def total_text_length(blocks: Sequence[Mapping[str, Any]]) -> int:
    """All visible text of ``blocks`` in UTF-16 units (what ``msg_blocks_too_long`` is about)."""
    return sum(utf16_len(text) for text in _texts_of(list(blocks)))


def _text_of(obj: Any) -> str:
    if isinstance(obj, Mapping) and isinstance(obj.get("text"), str):
        return str(obj["text"])
    return ""


def _check_element(where: str, element: Mapping[str, Any], problems: list[str]) -> None:
    if element.get("type") != "button":
        return
    if utf16_len(_text_of(element.get("text"))) > BUTTON_TEXT_MAX:
        problems.append(f"{where}: button text over {BUTTON_TEXT_MAX}")
    if not 0 < utf16_len(str(element.get("action_id", ""))) <= ACTION_ID_MAX:
        problems.append(f"{where}: action_id missing or over {ACTION_ID_MAX}")
    if utf16_len(str(element.get("value", ""))) > BUTTON_VALUE_MAX:
        problems.append(f"{where}: button value over {BUTTON_VALUE_MAX}")
    if utf16_len(str(element.get("url", ""))) > BUTTON_URL_MAX:
        problems.append(f"{where}: button url over {BUTTON_URL_MAX}")


def _check_block(where: str, block: Mapping[str, Any], problems: list[str]) -> None:
    kind = block.get("type")
    if kind == "header":
        text = _text_of(block.get("text"))
        if not 0 < utf16_len(text) <= HEADER_TEXT_MAX:
            problems.append(f"{where}: header text empty or over {HEADER_TEXT_MAX}")
    elif kind == "section":
        text = _text_of(block.get("text"))
        fields = block.get("fields") or []
        if not text and not fields:
            problems.append(f"{where}: section has neither text nor fields")
        if utf16_len(text) > SECTION_TEXT_MAX:
            problems.append(f"{where}: section text over {SECTION_TEXT_MAX}")
        if len(fields) > FIELDS_MAX:
            problems.append(f"{where}: more than {FIELDS_MAX} fields")
        for field in fields:
            if not 0 < utf16_len(_text_of(field)) <= FIELD_TEXT_MAX:
                problems.append(f"{where}: field empty or over {FIELD_TEXT_MAX}")
        if isinstance(block.get("accessory"), Mapping):
            _check_element(f"{where}/accessory", block["accessory"], problems)
    elif kind == "context":
        elements = block.get("elements") or []
        if not 0 < len(elements) <= CONTEXT_ELEMENTS_MAX:
            problems.append(f"{where}: context needs 1..{CONTEXT_ELEMENTS_MAX} elements")
        for element in elements:
            if not 0 < utf16_len(_text_of(element)) <= CONTEXT_TEXT_MAX:
                problems.append(f"{where}: context text empty or over {CONTEXT_TEXT_MAX}")
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 0 < len(elements) <= ACTIONS_ELEMENTS_MAX:
            problems.append(f"{where}: actions needs 1..{ACTIONS_ELEMENTS_MAX} elements")
        action_ids = [e.get("action_id") for e in elements]
        if len(set(action_ids)) != len(action_ids):
            problems.append(f"{where}: duplicate action_id in one block")
        for i, element in enumerate(elements):
            _check_element(f"{where}/elements/{i}", element, problems)
    elif kind != "divider":
        problems.append(f"{where}: block type {kind!r} is not one this bot sends")


def check_message(text: str, blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every way ``text``/``blocks`` break Slack's limits or this bot's budget; [] when fine."""
    problems: list[str] = []
    if not text.strip():
        problems.append("fallback text is empty")
    if utf16_len(text) > FALLBACK_TEXT_MAX:
        problems.append(f"fallback text over {FALLBACK_TEXT_MAX}")
    if len(blocks) > BLOCKS_MAX:
        problems.append(f"{len(blocks)} blocks, over {BLOCKS_MAX}")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids or not 0 < utf16_len(str(block_id)) <= BLOCK_ID_MAX:
                problems.append(f"/blocks/{i}: block_id duplicate or over {BLOCK_ID_MAX}")
            block_ids.add(str(block_id))
        _check_block(f"/blocks/{i}", block, problems)
    total = total_text_length(blocks)
    if total > TOTAL_TEXT_BUDGET:
        problems.append(f"total block text {total}, over the budget of {TOTAL_TEXT_BUDGET}")
    return problems
