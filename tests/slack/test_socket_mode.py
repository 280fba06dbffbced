"""Socket Mode: the same app over the (fake) Slack WebSocket, no public URL and no signatures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from aom_bot.render.actions import ACTION_REFRESH, encode_ref
from aom_bot.slack.help import USAGE
from aom_bot.slack.socket import build_socket_handler
from tests.fakes.slack_signing import block_actions_payload, slash_command_fields
from tests.slack.harness import Harness, action_values, text_of


@asynccontextmanager
async def connected(bot: Harness) -> AsyncIterator[AsyncSocketModeHandler]:
    """The app's Socket Mode handler, connected to the fake ``apps.connections.open``."""
    handler = build_socket_handler(bot.bolt, app_token=bot.slack.app_token)
    await handler.client.connect()  # type: ignore[no-untyped-call]
    try:
        await bot.slack.socket_mode.wait_connected()
        yield handler
    finally:
        await handler.client.close()  # type: ignore[no-untyped-call]


async def test_slash_command_over_socket_mode(bot: Harness) -> None:
    """A slash command envelope is acked (help: with the usage) and answered in the channel."""
    async with connected(bot):
        socket = bot.slack.socket_mode
        url = bot.slack.response_url(bot.slack.general, bot.slack.alice)
        ack = await socket.deliver_slash_command(slash_command_fields("help", response_url=url))
        assert ack["response_type"] == "ephemeral"
        assert USAGE in ack["blocks"][1]["text"]["text"]

        wf = bot.workflow("rotate-logs")
        ex = bot.failed_yesterday(wf)
        fields = slash_command_fields(f"show {wf} {ex} payload", response_url=url)
        ack = await socket.deliver_slash_command(fields)
        assert "but got 3 values" in ack["text"]  # a usage error, acked at once

        fields = slash_command_fields(f"show {wf} {ex}", response_url=url)
        assert await socket.deliver_slash_command(fields) == {}
        card = await bot.wait_posted()
        assert ex in text_of(card.args)
        assert ACTION_REFRESH in action_values(card.args)
    assert bot.slack.calls_to("apps.connections.open")


async def test_button_over_socket_mode(bot: Harness) -> None:
    """A button click envelope is acked and its card updated."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    async with connected(bot):
        socket = bot.slack.socket_mode
        url = bot.slack.response_url(bot.slack.general, bot.slack.alice)
        await socket.deliver_slash_command(slash_command_fields(f"{wf} {ex}", response_url=url))
        ts = str((await bot.wait_posted()).response["ts"])
        payload = block_actions_payload(
            ACTION_REFRESH,
            encode_ref(wf, ex),
            message_ts=ts,
            response_url=bot.slack.response_url(bot.slack.general, bot.slack.alice),
        )
        assert await socket.deliver_interactive(payload) == {}
        await bot.slack.wait_for("chat.update")


def test_app_token_must_be_app_level(bot: Harness) -> None:
    """A bot token given as SLACK_APP_TOKEN is refused without echoing it."""
    with pytest.raises(ValueError, match="xapp-") as caught:
        build_socket_handler(bot.bolt, app_token="xoxb-secret-value")
    assert "secret-value" not in str(caught.value)
