"""Channel subscriptions end to end: each new run posted once, failures-only, restarts, polls."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from aom_bot.aom.models import ExecutionDetail
from aom_bot.follow.discovery import SubscriptionDiscovery
from aom_bot.follow.engine import FollowEngine
from aom_bot.render.actions import ACTION_UNSUBSCRIBE
from aom_bot.render.analysis import bucket_counts
from aom_bot.store import Store
from tests.follow.harness import card_text
from tests.subscriptions.harness import (
    INTERVAL,
    OPS,
    Bot,
    new_bot,
    running,
    start,
)


def cards_of(bot: Bot, channel: str, workflow_id: str) -> list[dict[str, object]]:
    """Execution cards (not confirmations) the bot posted for a workflow in a channel."""
    return [
        m
        for m in bot.slack.messages(channel)
        if workflow_id in card_text(m) and "aom_exec.refresh" in str(m.get("blocks"))
    ]


async def test_each_new_run_is_posted_once_in_every_subscribed_channel(tmp_path: Path) -> None:
    """Two channels subscribed: each new run gets one card in each, followed to the end."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(wf)
        await bot.subscribe(wf, channel=OPS)
        first = bot.rig.world.add_execution(wf)
        await bot.advance(INTERVAL + 1)
        second = bot.rig.world.add_execution(wf)
        await bot.advance(400)  # both runs end; many more discovery rounds
        for channel in (bot.slack.general, OPS):
            cards = cards_of(bot, channel, wf)
            assert len(cards) == 2
            shown = "\n".join(card_text(c) for c in cards)
            assert first in shown
            assert second in shown
            assert "success" in card_text(cards[0]).lower()
            # the follow engine finished each card with one completion reply in its thread
            for card in cards:
                replies = bot.rig.replies(channel, str(card["ts"]))
                assert len(replies) == 1
                assert "finished" in card_text(replies[0]).lower()


async def test_two_channels_one_poll_per_interval(tmp_path: Path) -> None:
    """However many channels subscribe, a workflow's executions are listed once per interval."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(wf)
        await bot.subscribe(wf, channel=OPS)
        await bot.settle()
        bot.rig.requests.reset()
        await bot.advance(10 * INTERVAL)
        polls = [r for r in bot.rig.requests.records if r.endpoint == "list-executions"]
        assert len(polls) == 10
        assert {r.workflow_id for r in polls} == {wf}


async def test_history_is_not_replayed_at_subscribe(tmp_path: Path) -> None:
    """Runs that exist when the channel subscribes (ended or still running) are never posted."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("rotate-logs", scenario="few-failures")
        old = bot.rig.world.add_execution(wf, begin_ms=bot.rig.world.now_ms() - 86_400_000)
        running_now = bot.rig.world.add_execution(wf)
        await bot.advance(30)
        await bot.subscribe(wf)
        await bot.subscribe(f"{wf} --failures-only", channel=OPS)
        await bot.advance(300)  # the running one fails meanwhile: still history
        assert cards_of(bot, bot.slack.general, wf) == []
        assert cards_of(bot, OPS, wf) == []
        new = bot.rig.world.add_execution(wf)
        await bot.advance(300)
        for channel in (bot.slack.general, OPS):
            (card,) = cards_of(bot, channel, wf)
            assert new in card_text(card)
            assert old not in card_text(card)
            assert running_now not in card_text(card)


async def test_failures_only_posts_at_the_first_failed_host(tmp_path: Path) -> None:
    """A failing run is posted (with the mention) while it still runs; a good run stays silent."""
    async with running(tmp_path) as bot:
        failing = bot.rig.world.add_workflow("rotate-logs", scenario="few-failures")
        fine = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(f"{failing} --failures-only --mention <@U0BOB|bob>", channel=OPS)
        await bot.subscribe(f"{fine} --failures-only", channel=OPS)
        bad_run = bot.rig.world.add_execution(failing)
        bot.rig.world.add_execution(fine)
        first_failure: float | None = None
        posted: float | None = None
        while posted is None and bot.rig.clock.monotonic() < 600:
            await bot.advance(5)
            now = bot.rig.clock.monotonic()
            run = ExecutionDetail.model_validate(bot.rig.world.execution_json(failing, bad_run))
            if first_failure is None and bucket_counts(run).failed:
                first_failure = now
            if cards_of(bot, OPS, failing):
                posted = now
                assert first_failure is not None, "posted before any host failed"
                assert not run.is_terminal, "posted only at the end"
        assert first_failure is not None
        assert posted is not None
        assert posted - first_failure <= INTERVAL + 5
        (card,) = cards_of(bot, OPS, failing)
        assert bad_run in card_text(card)
        call = next(
            c for c in bot.slack.calls_to("chat.postMessage") if c.args.get("channel") == OPS
            and bad_run in str(c.args.get("blocks"))
        )  # fmt: skip
        assert "<@U0BOB>" in call.args["text"]  # the first post pings bob
        await bot.advance(400)
        assert len(cards_of(bot, OPS, failing)) == 1
        assert cards_of(bot, OPS, fine) == []
        replies = [card_text(r) for r in bot.rig.replies(OPS, str(card["ts"]))]
        (completion,) = [r for r in replies if "finished" in r]
        assert "<@U0BOB>" in completion  # the completion reply mentions bob again


async def test_restart_posts_runs_started_during_downtime_once(tmp_path: Path) -> None:
    """A new bot on the same store posts what started while it was down, once, and no more."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(wf)
        before = bot.rig.world.add_execution(wf)
        await bot.advance(INTERVAL + 1)
        assert len(cards_of(bot, bot.slack.general, wf)) == 1
        await bot.discovery.stop()
        await bot.engine.stop()
        missed = [bot.rig.world.add_execution(wf) for _ in range(2)]
        await bot.rig.advance(600, bot.engine)  # down for ten minutes; the runs end meanwhile
        store = await bot.rig.second_store()
        engine, discovery = new_bot(bot.rig, store, owner="replica-b")
        await start(bot.rig, engine, discovery)
        await bot.rig.advance(300, engine, discovery)
        cards = cards_of(bot, bot.slack.general, wf)
        assert len(cards) == 3
        shown = [card_text(c) for c in cards]
        for execution_id in (before, *missed):
            assert sum(execution_id in text for text in shown) == 1


async def test_unsubscribe_stops_posts(tmp_path: Path) -> None:
    """After unsubscribe no new card appears and the workflow is no longer polled."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(wf)
        bot.rig.world.add_execution(wf)
        await bot.advance(INTERVAL + 1)
        assert len(cards_of(bot, bot.slack.general, wf)) == 1
        before = bot.posted_count(bot.slack.general)
        await bot.command(f"unsubscribe {wf}")
        confirmation = await bot.said_in(bot.slack.general, before + 1)
        assert "Unsubscribed" in confirmation.args["text"]
        bot.rig.requests.reset()
        bot.rig.world.add_execution(wf)
        await bot.advance(300)
        assert len(cards_of(bot, bot.slack.general, wf)) == 1
        assert bot.rig.requests.count("list-executions") == 0


async def test_an_aom_error_on_one_workflow_leaves_the_others_alone(tmp_path: Path) -> None:
    """A workflow whose listing keeps failing does not stop discovery of another one."""
    async with running(tmp_path) as bot:
        broken = bot.rig.world.add_workflow("broken", scenario="all-success")
        good = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(broken)
        await bot.subscribe(good)
        bot.rig.faults.error_rates = {503: 1.0}
        bot.rig.faults.path_contains = f"/workflow/{broken}/"
        bot.rig.world.add_execution(broken)
        run = bot.rig.world.add_execution(good)
        await bot.advance(3 * INTERVAL)
        assert cards_of(bot, bot.slack.general, broken) == []
        (card,) = cards_of(bot, bot.slack.general, good)
        assert run in card_text(card)
        assert bot.discovery.stats.aom_errors >= 3
        bot.rig.faults.clear()  # AOM recovers: the run that was missed is posted now
        await bot.advance(INTERVAL + 1)
        assert len(cards_of(bot, bot.slack.general, broken)) == 1


async def second_replica(
    bot: Bot,
) -> tuple[list[str], Store, FollowEngine, SubscriptionDiscovery]:
    """Four subscribed workflows, and replica b started beside the bot (replica a)."""
    workflows = [bot.rig.world.add_workflow(f"wf-{i}", scenario="all-success") for i in range(4)]
    for wf in workflows:
        await bot.subscribe(wf)
    store = await bot.rig.second_store()
    engine, discovery = new_bot(bot.rig, store, owner="replica-b")
    await start(bot.rig, engine, discovery)
    return workflows, store, engine, discovery


async def test_two_replicas_share_the_work_without_duplicates(tmp_path: Path) -> None:
    """Two discovery loops on one database: each run posted once, one poll per interval."""
    async with running(tmp_path) as bot:
        workflows, _, engine, discovery = await second_replica(bot)
        both = (bot.engine, bot.discovery, engine, discovery)
        await bot.rig.advance(1, *both)
        bot.rig.requests.reset()
        runs = [bot.rig.world.add_execution(wf) for wf in workflows]
        await bot.rig.advance(5 * INTERVAL, *both)
        for wf, run in zip(workflows, runs, strict=True):
            (card,) = cards_of(bot, bot.slack.general, wf)
            assert run in card_text(card)
        polls = bot.rig.requests.count("list-executions")
        assert polls <= 5 * len(workflows) + len(workflows)


async def test_list_and_stop_buttons_in_the_channel(tmp_path: Path) -> None:
    """`subscriptions` lists the channel's subscriptions and follows privately, with Stop."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(f"{wf} --mention <@U0BOB|bob>", channel=OPS)
        run = bot.rig.world.add_execution(wf)
        await bot.advance(INTERVAL + 1)
        answer = await bot.answer(await bot.command("subscriptions", channel=OPS))
        assert answer["response_type"] == "ephemeral"
        from tests.subscriptions.harness import buttons

        rows = buttons(answer)
        (unsubscribe,) = [r for r in rows if r[0] == ACTION_UNSUBSCRIBE]
        (stop,) = [r for r in rows if r[0] == "aom_exec.stop_follow"]
        assert "deploy-web" in unsubscribe[2]
        assert "every run" in unsubscribe[2]
        assert "<@U0BOB>" in unsubscribe[2]
        assert run in stop[2]
        # Stop the follow, then the subscription, from the list
        said = await bot.answer(await bot.click(stop[0], stop[1], channel=OPS))
        assert "Stopped following" in said["text"]
        assert await bot.rig.store.find_active_follow(OPS, wf, run) is None
        said = await bot.answer(await bot.click(unsubscribe[0], unsubscribe[1], channel=OPS))
        assert "Unsubscribed" in said["text"]
        assert await bot.rig.store.subscriptions_for_channel(OPS) == []


async def test_a_heard_hand_over_polls_just_the_workflows_handed_over(tmp_path: Path) -> None:
    """Replica a stops; b, told so (the store's NOTIFY, relayed), takes a's workflows and polls
    each of them once at once; its own wait for its next round (one poll per interval)."""
    async with running(tmp_path) as bot:
        workflows, store, engine, discovery = await second_replica(bot)
        await bot.rig.advance(INTERVAL, bot.engine, bot.discovery, engine, discovery)
        await bot.rig.advance(1, bot.engine, bot.discovery, engine, discovery)
        holders = await store.lease_holders("discovery:", bot.rig.clock.now())
        a_held = {
            k.removeprefix("discovery:") for k, owner in holders.items() if owner == "replica-a"
        }
        assert a_held  # the test needs a to hold some
        await bot.discovery.stop()
        bot.rig.requests.reset()

        discovery.handover_heard("discovery:")
        await bot.rig.advance(1, engine, discovery)  # well before b's next round

        polled = Counter(
            r.workflow_id for r in bot.rig.requests.records if r.endpoint == "list-executions"
        )
        assert polled == Counter(a_held)
        assert discovery.stats.workflows == len(workflows)
