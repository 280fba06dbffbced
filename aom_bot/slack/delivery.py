"""What Slack's refusals mean: each error code as one :class:`~aom_bot.errors.SlackDeliveryError`.

Callers branch on the subclass (the message is gone, the channel is gone, the bot is not in it,
Slack rejected the content) and find Slack's own code in ``.error``.

>>> type(delivery_error("chat.update", "message_not_found")).__name__
'SlackMessageGone'
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from aom_bot.errors import (
    SlackChannelGone,
    SlackChannelUnreachable,
    SlackDeliveryError,
    SlackMessageGone,
    SlackNotInChannel,
    SlackRejected,
)

__all__ = ["NO_ERROR_CODE", "delivery_error", "error_code", "retry_after"]

_GONE_MESSAGE = {"message_not_found", "cant_update_message", "edit_window_closed"}
_GONE_CHANNEL = {"is_archived", "channel_is_archived", "not_in_channel_archived"}
_REJECTED = {
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "msg_blocks_too_long",
    "too_many_attachments",
    "invalid_attachments",
    "no_text",
    "invalid_arguments",
    "invalid_metadata_format",
    "invalid_metadata_schema",
    "metadata_too_large",
    "metadata_must_be_sent_from_app",
}


def delivery_error(method: str, code: str) -> SlackDeliveryError:
    """The project's exception for Slack's error ``code`` on ``method``."""
    message = f"Slack refused {method}: {code}."
    kind: type[SlackDeliveryError] = SlackDeliveryError
    if code == "not_in_channel":
        kind = SlackNotInChannel
    elif code == "channel_not_found":
        kind = SlackChannelUnreachable
    elif code in _GONE_CHANNEL:
        kind = SlackChannelGone
    elif code in _GONE_MESSAGE:
        kind = SlackMessageGone
    elif code in _REJECTED:
        kind = SlackRejected
    return kind(message, error=code, method=method)


def retry_after(error: SlackApiError, default: float) -> float:
    headers = getattr(error.response, "headers", None) or {}
    raw = None
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            raw = value
    try:
        seconds = float(raw[0] if isinstance(raw, list) else raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, IndexError):
        return default
    return min(max(seconds, 0.0), 3600.0)


NO_ERROR_CODE = "unknown_error"


def error_code(error: SlackApiError) -> str:
    try:
        code = error.response.get("error")
    except (AttributeError, TypeError, ValueError):
        code = None
    return str(code) if code else NO_ERROR_CODE
