"""Stable action_ids of the bot's buttons, and the compact reference their ``value`` carries.

These strings are a contract with Slack messages already posted: a button rendered last week
still sends its old action_id, so never rename one. Values carry ``{"w": workflow_id,
"e": execution_id}`` as compact JSON (well under Slack's 2,000 characters).

>>> decode_ref(encode_ref("wf-1", "exec-9"))
('wf-1', 'exec-9')
"""

from __future__ import annotations

import json
from typing import Final

from aom_bot.records import DEFAULT_PROFILE_NAME
from aom_bot.render.limits import BUTTON_VALUE_MAX

__all__ = [
    "ACTION_APPROVE",
    "ACTION_CANCEL",
    "ACTION_CONFIRM",
    "ACTION_CONSOLE",
    "ACTION_CONTINUE",
    "ACTION_FOLLOW",
    "ACTION_REFRESH",
    "ACTION_REPORT",
    "ACTION_RETRY",
    "ACTION_RUN",
    "ACTION_SHOW",
    "ACTION_SKIP",
    "ACTION_STOP_FOLLOW",
    "ACTION_TERMINATE",
    "ACTION_UNFOLLOW",
    "ACTION_UNSUBSCRIBE",
    "decode_profile",
    "decode_ref",
    "encode_ref",
]

#: re-render the card from a fresh AOM read
ACTION_REFRESH: Final = "aom_exec.refresh"
#: start following (the bot keeps the card updated)
ACTION_FOLLOW: Final = "aom_exec.follow"
#: stop following, pressed on the execution card
ACTION_UNFOLLOW: Final = "aom_exec.unfollow"
#: upload the full report (every host, full logs) as a file
ACTION_REPORT: Final = "aom_exec.report"
#: link button to the AOM console; Slack still sends an action when it is clicked
ACTION_CONSOLE: Final = "aom_exec.console"
#: show one execution from a list row
ACTION_SHOW: Final = "aom_exec.show"
#: stop following, pressed in the subscriptions list / Home tab
ACTION_STOP_FOLLOW: Final = "aom_exec.stop_follow"
#: remove a channel subscription, pressed in the subscriptions list / Home tab
ACTION_UNSUBSCRIBE: Final = "aom_exec.unsubscribe"


#: act on the execution (each button carries a confirm dialog; see ``aom_bot.operations``)
ACTION_TERMINATE: Final = "aom_exec.terminate"
ACTION_RETRY: Final = "aom_exec.retry"
#: an overflow menu beside Retry
ACTION_SKIP: Final = "aom_exec.skip"
ACTION_CONTINUE: Final = "aom_exec.continue"
ACTION_RUN: Final = "aom_exec.run"
#: the Confirm button under a command's summary (``/aom-exec terminate …``)
ACTION_CONFIRM: Final = "aom_exec.confirm"
#: a second person approves a request (two-person rule)
ACTION_APPROVE: Final = "aom_exec.approve"
#: cancel a command's summary or a two-person request
ACTION_CANCEL: Final = "aom_exec.cancel"


def encode_ref(workflow_id: str, execution_id: str, profile: str | None = None) -> str:
    """The button value for one execution: compact JSON ``{"w": …, "e": …}``, with
    ``"p": profile`` when the execution is not of the default profile (values of buttons
    posted before profiles existed have no ``"p"`` and stay valid)."""
    data = {"w": workflow_id, "e": execution_id}
    if profile and profile != DEFAULT_PROFILE_NAME:
        data["p"] = profile
    value = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(value.encode("utf-16-le")) // 2 > BUTTON_VALUE_MAX:
        raise ValueError("workflow/execution ids are too long for a button value")
    return value


def decode_ref(value: str) -> tuple[str, str]:
    """``(workflow_id, execution_id)`` from a button value; ValueError for anything else."""
    try:
        data = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        raise ValueError("button value is not an execution reference") from None
    if not isinstance(data, dict):
        raise ValueError("button value is not an execution reference")
    workflow_id, execution_id = data.get("w"), data.get("e")
    if not isinstance(workflow_id, str) or not isinstance(execution_id, str):
        raise ValueError("button value is not an execution reference")
    if not workflow_id or not execution_id:
        raise ValueError("button value has an empty workflow or execution id")
    return workflow_id, execution_id


def decode_profile(value: str) -> str:
    """The AOM profile a button value names (the default one when it names none); the
    caller validates it like any other untrusted name. ValueError for a broken value."""
    decode_ref(value)
    profile = json.loads(value).get("p", DEFAULT_PROFILE_NAME)
    if not isinstance(profile, str) or not profile:
        raise ValueError("button value has an invalid profile")
    return profile
