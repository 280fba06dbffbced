"""Assertions shared by the rendering tests: Slack validity, accounting, injection, secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.models.blocks import Block

from aom_bot.render.kit import SlackMessage
from aom_bot.render.limits import check_message

_ENTITY = re.compile(r"&(?:amp|lt|gt);")
#: the one tag the bot itself writes: Slack date formatting, ``<!date^EPOCH^FORMAT|FALLBACK>``
SLACK_DATE = re.compile(r"<!date\^\d+\^\{[a-z_]+\}(?: \{[a-z_]+\})?\|[0-9: -]+UTC>")


def texts(obj: Any) -> Iterator[tuple[str, str]]:
    """(type, text) of every text object in a block tree."""
    if isinstance(obj, Mapping):
        if obj.get("type") in ("plain_text", "mrkdwn") and isinstance(obj.get("text"), str):
            yield obj["type"], obj["text"]
            return
        for value in obj.values():
            yield from texts(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from texts(item)


def all_text(message: SlackMessage) -> str:
    return message.text + "\n" + "\n".join(t for _, t in texts(message.blocks))


def assert_valid(message: SlackMessage) -> None:
    """slack_sdk's block models and our own checker both accept the message."""
    assert check_message(message.text, message.blocks) == []
    for raw in message.blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()
        block.to_dict()  # validates nested elements too


def assert_inert(message: SlackMessage) -> None:
    """No mention, link or entity trick anywhere: the bot never emits '<' or '>' (but for
    its own date tags, never in the notification text)."""
    assert "<" not in message.text, message.text
    for kind, raw in texts(message.blocks):
        text = SLACK_DATE.sub("", raw) if kind == "mrkdwn" else raw
        assert "<" not in text, text
        assert ">" not in text, text
        if kind == "mrkdwn":
            assert "&" not in _ENTITY.sub("", text), text


_MORE_HOSTS = re.compile(r"^\+(\d+) more hosts?$", re.M)
_COMPACT = re.compile(r"^• \*(\d+) hosts?\* \(not listed\)", re.M)
_MORE_GROUPS = re.compile(r"^\+(\d+) more error groups? \((\d+) hosts?\)", re.M)
_FOOTER = re.compile(r"Listed (\d+) of (\d+) failed hosts; \+(\d+) more")
_GROUP_HEAD = re.compile(r"^\*❌ (\d+) hosts? · ")


def failed_accounting(message: SlackMessage) -> tuple[int, int]:
    """(hosts listed by name, hosts counted in '+N more' / not-listed lines) of a card."""
    listed = counted = 0
    for block in message.blocks:
        if block["type"] != "section":
            continue
        text = block["text"]["text"]
        head = _GROUP_HEAD.match(text)
        if head:
            shown = sum(1 for line in text.split("\n") if line.startswith("• `"))
            more = sum(int(n) for n in _MORE_HOSTS.findall(text))
            assert shown + more == int(head.group(1)), text
            listed += shown
            counted += more
        elif text.startswith("*More failures*"):
            counted += sum(int(n) for n in _COMPACT.findall(text))
            counted += sum(int(hosts) for _, hosts in _MORE_GROUPS.findall(text))
    return listed, counted


def footer_numbers(message: SlackMessage) -> tuple[int, int, int] | None:
    for kind, text in texts(message.blocks):
        match = _FOOTER.search(text)
        if match and kind == "mrkdwn":
            return int(match.group(1)), int(match.group(2)), int(match.group(3))
    return None
