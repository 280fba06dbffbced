"""``response_url`` semantics for the fake: 5 uses, ephemeral vs in_channel, replace/delete.

A response URL belongs to one interaction. It can post ephemerally to the invoker or
``in_channel`` even where the bot is not a member, and ``replace_original``/``delete_original``
act on the message the interaction came from (a button's message) or, for a slash command,
on the first message the URL itself produced. Answers mirror incoming webhooks: ``200 ok``,
or a 4xx with the error code as plain text (assumption: exact codes are undocumented).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.block_kit import validate_blocks
from tests.fakes.slack_state import Message, SlackError, Workspace, truthy

MAX_USES = 5


@dataclass(slots=True)
class ResponseUrl:
    """One ``response_url``: what was posted to it and what the invoker now sees."""

    id: str
    channel: str
    user: str
    original_ts: str | None = None
    original_is_ephemeral: bool = False
    posts: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[Message] = field(default_factory=list)
    uses: int = 0


def apply_post(hook: ResponseUrl, body: object, ws: Workspace) -> tuple[int, str]:
    """Apply one POST to ``hook``; returns (HTTP status, plain-text body)."""
    if not isinstance(body, dict):
        return 400, "invalid_payload"
    hook.posts.append(copy.deepcopy(body))
    hook.uses += 1
    if hook.uses > MAX_USES:
        return 404, "used_url"
    if truthy(body.get("delete_original")):
        return _delete(hook, ws)
    if not body.get("text") and not body.get("blocks"):
        return 400, "no_text"
    if body.get("blocks") is not None and not validate_blocks(body["blocks"]).ok:
        return 400, "invalid_blocks"
    content = {k: copy.deepcopy(body[k]) for k in ("text", "blocks", "attachments") if k in body}
    if truthy(body.get("replace_original")) and hook.original_ts is not None:
        return _replace(hook, content, ws)
    if body.get("response_type") == "in_channel":
        channel = ws.channels.get(hook.channel)
        if channel is None:
            return 404, "channel_not_found"
        try:
            message = ws.post(channel, {**content, "thread_ts": body.get("thread_ts")})
        except SlackError as exc:
            return 404, exc.code
        if hook.original_ts is None:
            hook.original_ts, hook.original_is_ephemeral = message["ts"], False
        return 200, "ok"
    ephemeral: Message = {"type": "message", "ts": ws.ts.next(), "user": hook.user, **content}
    hook.ephemerals.append(ephemeral)
    if hook.original_ts is None:
        hook.original_ts, hook.original_is_ephemeral = ephemeral["ts"], True
    return 200, "ok"


def _replace(hook: ResponseUrl, content: dict[str, Any], ws: Workspace) -> tuple[int, str]:
    if hook.original_is_ephemeral:
        for message in hook.ephemerals:
            if message["ts"] == hook.original_ts:
                message.pop("blocks", None)
                message.update(content)
                return 200, "ok"
        return 404, "message_not_found"
    channel = ws.channels.get(hook.channel)
    try:
        if channel is None:
            raise SlackError("channel_not_found")
        message = ws.find(channel, hook.original_ts)
    except SlackError as exc:
        return 404, exc.code
    message.pop("blocks", None)
    message.update(content)
    message["edited"] = {"user": ws.bot, "ts": ws.ts.next()}
    return 200, "ok"


def _delete(hook: ResponseUrl, ws: Workspace) -> tuple[int, str]:
    if hook.original_ts is None:
        return 404, "message_not_found"
    if hook.original_is_ephemeral:
        hook.ephemerals = [m for m in hook.ephemerals if m["ts"] != hook.original_ts]
        return 200, "ok"
    channel = ws.channels.get(hook.channel)
    try:
        if channel is None:
            raise SlackError("channel_not_found")
        ws.delete(channel, hook.original_ts, as_bot=False)
    except SlackError as exc:
        return 404, exc.code
    return 200, "ok"
