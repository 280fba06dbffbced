"""Action buttons on the execution card, each with Slack's ``confirm`` dialog.

The dialog is Slack's own (client-side): the click reaches the bot only once the person
confirmed. What each button does, and whether it is offered at all, is decided elsewhere
(:mod:`aom_bot.operations`); this module only draws it within Block Kit's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aom_bot.render import kit
from aom_bot.render.kit import Block
from aom_bot.render.limits import clip

__all__ = ["OPTION_VALUE_MAX", "ActionButton", "action_elements", "confirm_dialog"]

#: an overflow option's value is capped much lower than a button's
OPTION_VALUE_MAX = 150
_CONFIRM_TITLE_MAX = 100
_CONFIRM_TEXT_MAX = 300
_CONFIRM_BUTTON_MAX = 30


@dataclass(frozen=True, slots=True)
class ActionButton:
    """One action offered on a card (or under a command's summary)."""

    label: str
    action_id: str
    value: str
    #: the confirm dialog: title, mrkdwn text, and the label of its confirm button
    confirm_title: str
    confirm_text: str
    confirm_label: str
    style: Literal["primary", "danger"] | None = None
    #: drawn as an overflow menu ("⋯") beside the buttons, when the value fits one
    overflow: bool = False


def confirm_dialog(button: ActionButton) -> Block:
    """Slack's ``confirm`` object for ``button``, clipped to its limits."""
    dialog: Block = {
        "title": kit.plain(clip(button.confirm_title, _CONFIRM_TITLE_MAX)),
        "text": kit.mrkdwn(clip(button.confirm_text, _CONFIRM_TEXT_MAX)),
        "confirm": kit.plain(clip(button.confirm_label, _CONFIRM_BUTTON_MAX)),
        "deny": kit.plain("Cancel"),
    }
    if button.style == "danger":
        dialog["style"] = "danger"
    return dialog


def _button(button: ActionButton) -> Block:
    element = kit.button(
        clip(button.label, 75), button.action_id, value=button.value, style=button.style
    )
    element["confirm"] = confirm_dialog(button)
    return element


def _overflow(button: ActionButton) -> Block:
    return {
        "type": "overflow",
        "action_id": button.action_id,
        "options": [{"text": kit.plain(clip(button.label, 75)), "value": button.value}],
        "confirm": confirm_dialog(button),
    }


def action_elements(buttons: Sequence[ActionButton]) -> list[Block]:
    """The elements for an ``actions`` block, in order: an overflow menu sits where it is
    offered (Skip beside Retry); an option whose value is too long for a menu becomes a plain
    button."""
    return [
        _overflow(b) if b.overflow and len(b.value) <= OPTION_VALUE_MAX else _button(b)
        for b in buttons
    ]
