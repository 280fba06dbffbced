"""Per-user and per-workspace limits on active follows (issue 10, item 3).

Through the real Slack app and follow engine over the store: counts come from the store (so
they hold across replicas); a follow a subscription started counts toward the workspace, not
toward the person.
"""

from __future__ import annotations

from datetime import timedelta

from aom_bot.config import Settings
from aom_bot.store.base import NewFollow, NewSubscription
from tests.fakes.slack_api import RecordedCall
from tests.slack.harness import Harness, running_bot

BOB = "U0BOB"


async def _subscription_follow(bot: Harness, wf: str, ex: str, channel: str) -> None:
    now = bot.clock.now()
    sub, _ = await bot.store.subscribe(
        NewSubscription(
            channel_id=channel,
            workflow_id=wf,
            workflow_name="deploy-nginx",
            failures_only=False,
            mention=None,
            created_by=bot.slack.alice,
            created_at=now,
        )
    )
    await bot.store.start_follow(
        NewFollow(
            workflow_id=wf,
            execution_id=ex,
            channel_id=channel,
            started_by=bot.slack.alice,
            started_at=now,
            deadline=now + timedelta(hours=24),
            subscription_id=sub.id,
        )
    )


async def test_follows_beyond_the_limits_are_refused_clearly() -> None:
    """Alice may start 2 follows by hand (her subscription's follow not counted), the third is
    refused with the reason; Bob fills the workspace's 4; the fifth is refused for everyone."""
    async with running_bot(max_follows=(2, 4)) as bot:
        bot.slack.add_user(BOB, "bob")
        channels = [
            bot.slack.add_channel(f"ops-{i}", members=[bot.slack.alice, BOB]).id for i in range(5)
        ]
        wf = bot.workflow("deploy-nginx")
        ex = bot.newest(wf)
        await _subscription_follow(bot, wf, ex, channels[4])

        async def follow(channel: str, user: str) -> str | None:
            """The private answer's text, or None when the followed card was posted."""
            before = {id(call) for call in bot.slack.calls}
            await bot.command(f"follow {wf} {ex}", channel_id=channel, user_id=user)
            hook_id = bot.last_hook.rsplit("/", 1)[-1]

            def answered(call: RecordedCall) -> bool:
                to_hook = call.method == "response_url" and call.args.get("hook_id") == hook_id
                posted = call.method == "chat.postMessage" and call.args["channel"] == channel
                return id(call) not in before and (to_hook or posted)

            (call,) = await bot.slack.wait_for(answered)
            if call.method == "response_url":
                return str(call.args["text"])
            await bot.follows.wait("follow", bot.follows.finished.count("follow") + 1)
            return None

        assert await follow(channels[0], bot.slack.alice) is None
        assert await follow(channels[1], bot.slack.alice) is None
        refused = await follow(channels[2], bot.slack.alice)
        assert refused is not None
        assert "You already follow 2 executions" in refused
        assert await bot.store.find_active_follow(channels[2], wf, ex) is None
        # asking again where it is already followed is not a new follow: never refused
        again = await follow(channels[0], bot.slack.alice)
        assert again is not None
        assert "already followed" in again

        assert await follow(channels[2], BOB) is None
        full = await follow(channels[3], BOB)
        assert full is not None
        assert "This workspace already follows 4 executions" in full
        assert await bot.store.find_active_follow(channels[3], wf, ex) is None
        assert await bot.store.count_active_follows() == 4


def test_limits_have_sane_defaults_and_are_settings() -> None:
    """Defaults cap one person at 20 and the workspace at 100; both are env settings."""
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (defaults.aom_bot_max_follows_per_user, defaults.aom_bot_max_follows_per_workspace) == (
        20,
        100,
    )
    tuned = Settings(  # type: ignore[call-arg]
        _env_file=None, aom_bot_max_follows_per_user=5, aom_bot_max_follows_per_workspace=50
    )
    assert tuned.aom_bot_max_follows_per_user == 5
