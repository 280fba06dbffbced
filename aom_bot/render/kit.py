"""Tiny typed Block Kit builders returning plain dicts, and the message they make up.

Builders take text that is already safe (escaped by :mod:`aom_bot.render.escape`); they only
shape it. mrkdwn objects are ``verbatim`` so Slack never auto-links names or URLs in AOM text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "Block",
    "MessageLike",
    "MessageSource",
    "SlackMessage",
    "actions",
    "button",
    "context",
    "divider",
    "header",
    "mrkdwn",
    "notice_message",
    "plain",
    "section",
]

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A message ready for ``chat.postMessage`` / ``chat.update``: fallback text and blocks."""

    text: str
    blocks: list[Block]

    def to_dict(self) -> dict[str, Any]:
        """``{"text": …, "blocks": […]}``: what Block Kit Builder and the Web API take."""
        return {"text": self.text, "blocks": self.blocks}


class MessageLike(Protocol):
    """What the notifier sends: :class:`SlackMessage` or anything with the same ``to_dict``.

    Declared here, next to the message, so the follow engine and the Slack notifier share one
    declaration without importing each other.
    """

    def to_dict(self) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.update (``text``, ``blocks``…)."""
        ...


#: a message, or a function rendering the latest one when the send slot arrives (coalescing)
MessageSource = MessageLike | Callable[[], MessageLike]


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text)}


def section(text: str, *, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t]}


def divider() -> Block:
    return {"type": "divider"}


def actions(*elements: Block) -> Block:
    return {"type": "actions", "elements": list(elements)}


def button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: Literal["primary", "danger"] | None = None,
) -> Block:
    element: Block = {"type": "button", "text": plain(text), "action_id": action_id}
    if value is not None:
        element["value"] = value
    if url is not None:
        element["url"] = url
    if style is not None:
        element["style"] = style
    return element


def notice_message(text: str) -> SlackMessage:
    """A one-section message whose text the bot wrote itself (already safe mrkdwn)."""
    return SlackMessage(text=text, blocks=[section(text)])
