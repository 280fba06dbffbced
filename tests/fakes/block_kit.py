"""Block Kit limits as Slack's API enforces them, for the fake Web API.

Slack checks plain-dict blocks server side and answers ``invalid_blocks`` with one
``"<reason> [json-pointer:/blocks/N/...]"`` string per problem, or ``msg_blocks_too_long``
when every block is fine but the message as a whole carries too much text. The fake uses
this module so oversize payloads fail in CI exactly where they would fail in Slack.
Limits come from ``/work/shared/reference/slack-platform.md`` §3.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
ID_MAX = 255
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
MARKDOWN_TEXT_MAX = 12_000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
OVERFLOW_OPTIONS_MAX = 5
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
#: Observed, undocumented: total block text above ~12k characters -> ``msg_blocks_too_long``.
TOTAL_TEXT_MAX = 12_000

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


@dataclass(frozen=True, slots=True)
class BlocksVerdict:
    """Outcome of validating a blocks array: a Slack error code plus its detail lines."""

    error: str | None
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when Slack would accept the blocks."""
        return self.error is None


OK = BlocksVerdict(None)


def validate_blocks(
    blocks: object,
    *,
    max_blocks: int = MESSAGE_MAX_BLOCKS,
    pointer: str = "/blocks",
    total_text_max: int | None = TOTAL_TEXT_MAX,
) -> BlocksVerdict:
    """Check ``blocks`` the way Slack does for chat.* (``max_blocks=100`` for views)."""
    if not isinstance(blocks, list):
        return BlocksVerdict(
            "invalid_blocks_format", (f"must be an array [json-pointer:{pointer}]",)
        )
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        problems.extend(_check_block(block, f"{pointer}/{index}", seen_ids))
    if problems:
        return BlocksVerdict("invalid_blocks", tuple(problems))
    if total_text_max is not None and block_text_length(blocks) > total_text_max:
        return BlocksVerdict("msg_blocks_too_long")
    return OK


def block_text_length(value: object) -> int:
    """Sum of the lengths of every ``text`` string inside ``value`` (Slack's cumulative cap)."""
    return sum(len(text) for text in _texts(value))


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _check_block(block: object, at: str, seen_ids: set[str]) -> list[str]:
    if not isinstance(block, dict):
        return [f"must be an object [json-pointer:{at}]"]
    problems: list[str] = []
    block_type = block.get("type")
    if block_type not in KNOWN_BLOCK_TYPES:
        return [f"unsupported type: {block_type!r} [json-pointer:{at}/type]"]
    block_id = block.get("block_id")
    if block_id is not None:
        if not isinstance(block_id, str) or len(block_id) > ID_MAX:
            problems.append(
                f"must be less than {ID_MAX + 1} characters [json-pointer:{at}/block_id]"
            )
        elif block_id in seen_ids:
            problems.append(f"duplicate block_id [json-pointer:{at}/block_id]")
        else:
            seen_ids.add(block_id)
    checker = _BLOCK_CHECKERS.get(str(block_type))
    if checker is not None:
        problems.extend(checker(block, at))
    return problems


def _text_object(
    obj: object, at: str, *, max_len: int, plain_only: bool = False, required: bool = True
) -> list[str]:
    if obj is None:
        return [f"must provide an object [json-pointer:{at}]"] if required else []
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        return [f"must be a text object [json-pointer:{at}]"]
    if plain_only and obj.get("type") != "plain_text":
        return [f"must be plain_text [json-pointer:{at}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{at}/text]"]
    if len(text) > max_len:
        return [f"must be less than {max_len + 1} characters [json-pointer:{at}/text]"]
    return []


def _max_str(obj: dict[str, Any], key: str, max_len: int, at: str) -> list[str]:
    value = obj.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > max_len):
        return [f"must be less than {max_len + 1} characters [json-pointer:{at}/{key}]"]
    return []


def _section(block: dict[str, Any], at: str) -> list[str]:
    problems: list[str] = []
    text, fields = block.get("text"), block.get("fields")
    if text is None and fields is None:
        return [f"must provide text or fields [json-pointer:{at}]"]
    if text is not None:
        problems += _text_object(text, f"{at}/text", max_len=SECTION_TEXT_MAX)
    if fields is not None:
        if not isinstance(fields, list) or not fields:
            problems.append(f"must be a non-empty array [json-pointer:{at}/fields]")
        else:
            if len(fields) > SECTION_FIELDS_MAX:
                problems.append(
                    f"no more than {SECTION_FIELDS_MAX} items allowed [json-pointer:{at}/fields]"
                )
            for i, field in enumerate(fields):
                problems += _text_object(field, f"{at}/fields/{i}", max_len=SECTION_FIELD_TEXT_MAX)
    accessory = block.get("accessory")
    if accessory is not None:
        problems += _element(accessory, f"{at}/accessory", set())
    return problems


def _header(block: dict[str, Any], at: str) -> list[str]:
    return _text_object(block.get("text"), f"{at}/text", max_len=HEADER_TEXT_MAX, plain_only=True)


def _context(block: dict[str, Any], at: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"must be a non-empty array [json-pointer:{at}/elements]"]
    problems: list[str] = []
    if len(elements) > CONTEXT_ELEMENTS_MAX:
        problems.append(
            f"no more than {CONTEXT_ELEMENTS_MAX} items allowed [json-pointer:{at}/elements]"
        )
    for i, element in enumerate(elements):
        if isinstance(element, dict) and element.get("type") == "image":
            problems += _max_str(element, "image_url", URL_MAX, f"{at}/elements/{i}")
        else:
            problems += _text_object(element, f"{at}/elements/{i}", max_len=SECTION_TEXT_MAX)
    return problems


def _actions(block: dict[str, Any], at: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"must be a non-empty array [json-pointer:{at}/elements]"]
    problems: list[str] = []
    if len(elements) > ACTIONS_ELEMENTS_MAX:
        problems.append(
            f"no more than {ACTIONS_ELEMENTS_MAX} items allowed [json-pointer:{at}/elements]"
        )
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        problems += _element(element, f"{at}/elements/{i}", action_ids)
    return problems


def _element(element: object, at: str, action_ids: set[str]) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [f"must be an element object [json-pointer:{at}]"]
    problems: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or len(action_id) > ID_MAX:
            problems.append(
                f"must be less than {ID_MAX + 1} characters [json-pointer:{at}/action_id]"
            )
        elif action_id in action_ids:
            problems.append(f"duplicate action_id [json-pointer:{at}/action_id]")
        else:
            action_ids.add(action_id)
    if element["type"] == "button":
        problems += _text_object(
            element.get("text"), f"{at}/text", max_len=BUTTON_TEXT_MAX, plain_only=True
        )
        problems += _max_str(element, "value", BUTTON_VALUE_MAX, at)
        problems += _max_str(element, "url", URL_MAX, at)
        style = element.get("style")
        if style is not None and style not in ("primary", "danger"):
            problems.append(f"must be one of primary, danger [json-pointer:{at}/style]")
    if element["type"] == "overflow":
        problems += _overflow(element, at)
    if "confirm" in element:
        problems += _confirm(element["confirm"], f"{at}/confirm")
    return problems


def _overflow(element: dict[str, Any], at: str) -> list[str]:
    options = element.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= OVERFLOW_OPTIONS_MAX:
        return [f"must have 1 to {OVERFLOW_OPTIONS_MAX} items [json-pointer:{at}/options]"]
    problems: list[str] = []
    for i, option in enumerate(options):
        where = f"{at}/options/{i}"
        if not isinstance(option, dict):
            problems.append(f"must be an option object [json-pointer:{where}]")
            continue
        problems += _text_object(
            option.get("text"), f"{where}/text", max_len=OPTION_TEXT_MAX, plain_only=True
        )
        problems += _max_str(option, "value", OPTION_VALUE_MAX, where)
    return problems


def _confirm(confirm: object, at: str) -> list[str]:
    """A confirmation dialog object: title, text, confirm and deny."""
    if not isinstance(confirm, dict):
        return [f"must be a confirm object [json-pointer:{at}]"]
    problems = _text_object(
        confirm.get("title"), f"{at}/title", max_len=CONFIRM_TITLE_MAX, plain_only=True
    )
    problems += _text_object(confirm.get("text"), f"{at}/text", max_len=CONFIRM_TEXT_MAX)
    for key in ("confirm", "deny"):
        problems += _text_object(
            confirm.get(key), f"{at}/{key}", max_len=CONFIRM_BUTTON_MAX, plain_only=True
        )
    style = confirm.get("style")
    if style is not None and style not in ("primary", "danger"):
        problems.append(f"must be one of primary, danger [json-pointer:{at}/style]")
    return problems


def _markdown(block: dict[str, Any], at: str) -> list[str]:
    text = block.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{at}/text]"]
    return _max_str(block, "text", MARKDOWN_TEXT_MAX, at)


def _image(block: dict[str, Any], at: str) -> list[str]:
    problems = _max_str(block, "image_url", URL_MAX, at)
    problems += _max_str(block, "alt_text", SECTION_FIELD_TEXT_MAX, at)
    if not block.get("alt_text"):
        problems.append(f"must provide alt_text [json-pointer:{at}/alt_text]")
    return problems


def _rich_text(block: dict[str, Any], at: str) -> list[str]:
    if not isinstance(block.get("elements"), list):
        return [f"must be an array [json-pointer:{at}/elements]"]
    return []


_BLOCK_CHECKERS = {
    "section": _section,
    "header": _header,
    "context": _context,
    "actions": _actions,
    "markdown": _markdown,
    "image": _image,
    "rich_text": _rich_text,
}
