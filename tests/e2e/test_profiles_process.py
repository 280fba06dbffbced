"""Profiles end to end: one real bot process serving two AOM projects (two simulators, AK/SK
and a static token), channels bound to each, and the access policy of ``aom-bot.toml``.

Everything on 127.0.0.1: FakeSlack in the test's loop, the simulators in threads on a clock the
test moves by hand, the bot as a subprocess (helpers in :mod:`tests.e2e.profiles_harness`).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import pytest

from aom_bot.simulator import SimulatorCredentials
from aom_bot.store import open_store
from tests.e2e.profiles_harness import (
    ONCALL_GROUP,
    PROD_AK,
    PROD_CHANNEL,
    PROD_ONLY_HERE,
    PROD_READABLE_FROM_STAGING,
    PROD_SK,
    STAGING_CHANNEL,
    STAGING_TOKEN,
    Project,
    RunningBot,
    add_channels,
    bot_process,
    click,
    command,
    config_text,
    is_answer,
    is_card,
    is_completion_in,
    profiles_environment,
    two_projects,
)
from tests.e2e.test_bot_process import HandClock
from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.slack_signing import USER_ID

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]


async def show_in_own_channel(slack: FakeSlack, bot: RunningBot, project: Project) -> RecordedCall:
    execution = project.current_run()
    await command(slack, bot, f"show {project.workflow} {execution}", project.channel)
    [card] = await slack.wait_for(lambda c: is_card(c, project.channel, execution), timeout=15)
    return card


async def test_each_channel_reaches_only_its_own_project_with_its_own_credentials(tmp_path):
    """`show` in prod's channel asks prod's AOM (which accepts only prod's AK/SK) and nothing
    of staging's, and the reverse; each card names its profile and region."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    async with FakeSlack() as slack:
        add_channels(slack)
        with two_projects(clock, "mass-failure") as (prod, staging):
            config.write_text(config_text(prod, staging))
            env = profiles_environment(config, slack, tmp_path / "bot.sqlite3")
            async with bot_process(env, tmp_path / "bot.log") as bot:
                for project in (prod, staging):
                    project.requests.reset()  # from here on: what the commands asked
                prod_card = await show_in_own_channel(slack, bot, prod)
                assert staging.requests.total == 0
                asked_prod = prod.requests.total
                staging_card = await show_in_own_channel(slack, bot, staging)
                assert prod.requests.total == asked_prod

                # the card's Refresh carries its profile: prod's AOM again, and only it
                staging_asked = staging.executions_asked()
                staging.requests.reset()
                await click(slack, bot, prod_card, "aom_exec.refresh", PROD_CHANNEL)
                [refreshed] = await slack.wait_for(
                    lambda c: c.method == "chat.update" and c.args["channel"] == PROD_CHANNEL,
                    timeout=15,
                )
                assert prod.requests.total > asked_prod
                assert staging.requests.total == 0
                # the same button pressed where prod may not be read: refused, nothing asked
                asked_prod = prod.requests.total
                hook = await click(slack, bot, prod_card, "aom_exec.refresh", STAGING_CHANNEL)
                [refusal] = await slack.wait_for(lambda c: is_answer(c, hook), timeout=15)
                assert prod.requests.total == asked_prod
                assert staging.requests.total == 0
                await bot.stop()
            log = bot.log_text()

    assert prod.requests.count("status", prod.current_run()) >= 1
    assert prod.executions_asked() == {prod.current_run()}
    assert staging_asked == {staging.current_run()}
    # the simulators refuse other credentials: a card with the run's hosts means they were
    # accepted (an AOM error would be an ephemeral warning, not a card in the channel)
    for card, project in ((prod_card, prod), (staging_card, staging)):
        blocks = str(card.args["blocks"])
        assert project.label in blocks
        assert project.workflow_name in card.args["text"]
    assert staging.label not in str(prod_card.args["blocks"])
    assert refreshed.args["ts"] == prod_card.response["ts"]
    assert prod.label in str(refreshed.args["blocks"])
    assert_refusal(refusal)
    assert '"level": "error"' not in log
    assert PROD_SK not in log
    assert STAGING_TOKEN not in log


async def show_prod_from_staging_channel(
    slack: FakeSlack, bot: RunningBot, prod: Project, staging: Project
) -> tuple[RecordedCall, int]:
    """``show --profile prod`` from staging's channel: the refusal, and the requests it made."""
    before = prod.requests.total + staging.requests.total
    text = f"show --profile prod {prod.workflow} {prod.current_run()}"
    hook = await command(slack, bot, text, STAGING_CHANNEL)
    [refusal] = await slack.wait_for(lambda c: is_answer(c, hook), timeout=15)
    return refusal, prod.requests.total + staging.requests.total - before


BOB = "U0BOB0001"


def assert_refusal(refusal: RecordedCall) -> None:
    assert refusal.args["response_type"] == "ephemeral"
    text = refusal.args["text"]
    assert "`read`" in text
    assert "`prod`" in text
    assert f"channel `{STAGING_CHANNEL}`" in text
    assert "configuration file" in text


async def test_profile_option_is_refused_unless_a_rule_allows_it_and_sighup_changes_that(
    tmp_path,
):
    """`--profile prod` from staging's channel is refused (privately, naming the permission,
    profile and channel, nothing sent to either AOM). SIGHUP with a broken file that would
    allow it changes nothing (config.reload_refused); SIGHUP with a valid one (a rule for the
    on-call group, Alice among its members) allows it for the next command, which then reaches
    prod only."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    async with FakeSlack() as slack:
        add_channels(slack)
        slack.add_user(BOB, "bob")
        slack.add_usergroup(ONCALL_GROUP, [USER_ID])
        with two_projects(clock, "mass-failure") as (prod, staging):
            config.write_text(config_text(prod, staging))
            env = profiles_environment(config, slack, tmp_path / "bot.sqlite3")
            async with bot_process(env, tmp_path / "bot.log") as bot:
                first, asked = await show_prod_from_staging_channel(slack, bot, prod, staging)
                assert_refusal(first)
                assert asked == 0

                allowing = PROD_ONLY_HERE + PROD_READABLE_FROM_STAGING
                broken = config_text(
                    prod, staging, rules=allowing,
                    prod_credentials='{ ak_env = "PROD_AK", sk = "inline-sk-never-shown" }',
                )  # fmt: skip
                await bot.reload(config, broken, expect="config.reload_refused")
                second, asked = await show_prod_from_staging_channel(slack, bot, prod, staging)
                assert_refusal(second)
                assert asked == 0
                await show_in_own_channel(slack, bot, staging)  # what was allowed still is

                await bot.reload(
                    config, config_text(prod, staging, rules=allowing), expect="config.reloaded"
                )
                staging.requests.reset()
                prod.requests.reset()
                execution = prod.current_run()
                text = f"show --profile prod {prod.workflow} {execution}"
                hook = await command(slack, bot, text, STAGING_CHANNEL, user=BOB)
                [bobs] = await slack.wait_for(lambda c: is_answer(c, hook), timeout=15)
                assert_refusal(bobs)  # not in the on-call group
                assert prod.requests.total == 0
                await command(slack, bot, text, STAGING_CHANNEL)
                [card] = await slack.wait_for(
                    lambda c: is_card(c, STAGING_CHANNEL, execution), timeout=15
                )
                await bot.stop()
            log = bot.log_text()

    assert prod.label in str(card.args["blocks"])
    assert staging.requests.total == 0
    assert prod.executions_asked() == {execution}
    refused = [line for line in log.splitlines() if "config.reload_refused" in line]
    assert len(refused) == 1
    assert "profiles.prod.credentials.sk" in refused[0]
    assert "inline-sk-never-shown" not in log
    assert log.count("access.denied") == 3
    [membership] = slack.calls_to("usergroups.users.list")  # cached: asked once
    assert membership.args["usergroup"] == ONCALL_GROUP


async def wait_until_no_follows(database: Path) -> None:
    """Poll another process's database (nothing to await on across processes), bounded."""
    store = await open_store(f"sqlite:///{database}")
    try:
        async with asyncio.timeout(20):
            while await store.active_follows():  # noqa: ASYNC110 - state in another process
                await asyncio.sleep(0.05)
    finally:
        await store.aclose()


async def follows_in_store(database: Path) -> dict[str, str]:
    store = await open_store(f"sqlite:///{database}")
    try:
        return {f.channel_id: f.profile for f in await store.active_follows()}
    finally:
        await store.aclose()


async def test_a_follow_in_each_channel_polls_its_own_project_across_a_sigkill(tmp_path):
    """Follows in both channels; SIGKILL; the runs end while the bot is down, and the file now
    binds each channel to the other project. The restarted bot still polls each follow at the
    project it was started in and posts each completion once, in its thread."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    database = tmp_path / "bot.sqlite3"
    async with FakeSlack() as slack:
        add_channels(slack)
        with two_projects(clock, "mass-failure") as (prod, staging):
            config.write_text(config_text(prod, staging))
            env = profiles_environment(config, slack, database)
            clock.offset = 10  # both runs are under way
            cards: dict[str, RecordedCall] = {}
            async with bot_process(env, tmp_path / "bot.log") as first:
                for project in (prod, staging):
                    execution = project.current_run()
                    await command(slack, first, f"follow {project.workflow} {execution}",
                                  project.channel)  # fmt: skip
                    [cards[project.name]] = await slack.wait_for(
                        lambda c, p=project, e=execution: is_card(c, p.channel, e), timeout=15
                    )
                first.process.kill()
                await first.process.wait()
            assert first.process.returncode == -signal.SIGKILL
            assert await follows_in_store(database) == {
                PROD_CHANNEL: "prod",
                STAGING_CHANNEL: "staging",
            }
            for project in (prod, staging):
                project.requests.reset()
            clock.offset = 120  # both runs end while the bot is down
            config.write_text(config_text(prod, staging, swapped=True))
            async with bot_process(env, tmp_path / "bot.log") as second:
                for project in (prod, staging):
                    await slack.wait_for(lambda c, p=project: is_completion_in(c, p.channel),
                                         timeout=20)  # fmt: skip
                await wait_until_no_follows(database)
                await second.stop()

    for project in (prod, staging):
        assert project.executions_asked() == {project.current_run()}
        assert project.requests.count("status", project.current_run()) >= 1
        done = [c for c in slack.calls if is_completion_in(c, project.channel)]
        assert len(done) == 1, [c.args.get("text") for c in done]
        assert done[0].args["thread_ts"] == cards[project.name].response["ts"]
        assert project.label in str(cards[project.name].args["blocks"])
        final = slack.message(project.channel, cards[project.name].response["ts"])
        assert project.label in str(final["blocks"])  # still its own, whatever the binding
        assert [c for c in slack.calls if is_card(c, project.channel)] == [cards[project.name]]


async def test_a_subscription_in_each_channel_posts_only_its_own_projects_runs(tmp_path):
    """`subscribe` in both channels; a new run in each project is posted in its channel only,
    and each subscription is polled at its own AOM; `subscriptions` names the profile. After a
    SIGHUP that binds each channel to the other project, each still posts its own project's."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    async with FakeSlack() as slack:
        add_channels(slack)
        with two_projects(clock, "few-failures") as (prod, staging):
            config.write_text(config_text(prod, staging))
            env = profiles_environment(config, slack, tmp_path / "bot.sqlite3")
            clock.offset = 600  # every run so far has finished: history, not to be posted
            async with bot_process(env, tmp_path / "bot.log") as bot:
                for project in (prod, staging):
                    await command(slack, bot, f"subscribe {project.workflow}", project.channel)
                    await slack.wait_for(lambda c, p=project: is_card(c, p.channel), timeout=15)
                new_runs = {}
                for project in (prod, staging):
                    new_runs[project.name] = run = project.world.start_execution(project.workflow)
                    await slack.wait_for(
                        lambda c, p=project, r=run: is_card(c, p.channel, r), timeout=15
                    )
                listed = {}
                for project in (prod, staging):
                    hook = await command(slack, bot, "subscriptions", project.channel)
                    [listed[project.name]] = await slack.wait_for(
                        lambda c, h=hook: is_answer(c, h), timeout=15
                    )
                # each channel now bound to the other project: a subscription keeps its own
                swapped = config_text(prod, staging, swapped=True)
                await bot.reload(config, swapped, expect="config.reloaded")
                later_runs = {}
                for project in (prod, staging):
                    later_runs[project.name] = run = project.world.start_execution(project.workflow)
                    await slack.wait_for(
                        lambda c, p=project, r=run: is_card(c, p.channel, r), timeout=15
                    )
                await bot.stop()

    for project, other in ((prod, staging), (staging, prod)):
        channel_cards = [c for c in slack.calls if is_card(c, project.channel)]
        confirmation, card, later = channel_cards  # no history replayed; each new run once
        assert "subscribed" in confirmation.args["text"].lower()
        assert new_runs[project.name] in str(card.args["blocks"])
        assert new_runs[other.name] not in str(card.args["blocks"])
        assert later_runs[project.name] in str(later.args["blocks"])
        for posted in (card, later):
            assert project.label in str(posted.args["blocks"])
        assert project.workflows_asked() == {project.workflow}
        assert f"profile `{project.name}`" in str(listed[project.name].args)
        assert f"profile `{other.name}`" not in str(listed[project.name].args)


async def private_show(slack: FakeSlack, bot: RunningBot, project: Project) -> RecordedCall:
    text = f"show --private {project.workflow} {project.current_run()}"
    hook = await command(slack, bot, text, project.channel)
    [answer] = await slack.wait_for(lambda c: is_answer(c, hook), timeout=30)
    return answer


async def test_sighup_hands_rotated_key_files_to_the_profiles_clients(tmp_path):
    """prod's keys come from files. AOM switches to a new key pair: the bot's requests are
    refused until the files hold the new pair and SIGHUP re-reads them; staging is untouched."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    ak_file, sk_file = tmp_path / "prod-ak", tmp_path / "prod-sk"
    ak_file.write_text(PROD_AK + "\n")
    sk_file.write_text(PROD_SK + "\n")
    new_ak, new_sk = "PRODE2EACCESSKEY0002", "prod-e2e-rotated-secret-0e9d8c7b6a"
    files = f'{{ ak_file = "{ak_file}", sk_file = "{sk_file}" }}'
    async with FakeSlack() as slack:
        add_channels(slack)
        with two_projects(clock, "all-success") as (prod, staging):
            text = config_text(prod, staging, prod_credentials=files)
            config.write_text(text)
            env = profiles_environment(config, slack, tmp_path / "bot.sqlite3")
            async with bot_process(env, tmp_path / "bot.log") as bot:
                before = await private_show(slack, bot, prod)
                prod.authenticator.credentials = SimulatorCredentials(ak=new_ak, sk=new_sk)
                refused = await private_show(slack, bot, prod)
                ak_file.write_text(new_ak + "\n")
                sk_file.write_text(new_sk + "\n")
                await bot.reload(config, text, expect="config.credentials_rotated")
                after = await private_show(slack, bot, prod)
                other = await private_show(slack, bot, staging)
                await bot.stop()
            log = bot.log_text()

    for answer, project in ((before, prod), (after, prod), (other, staging)):
        assert project.workflow_name in answer.args["text"], answer.args["text"]
        assert project.label in str(answer.args["blocks"])
    assert prod.workflow_name not in refused.args["text"]
    assert ":warning:" in str(refused.args["blocks"])
    assert "the profile's credentials" in refused.args["text"]
    assert "config.credentials_rotated profile=prod" in log
    assert "config.credentials_rotated profile=staging" not in log
    for secret in (PROD_SK, new_sk):
        assert secret not in log
        assert secret not in str(slack.calls)


async def test_a_profile_whose_aom_is_down_does_not_hold_up_the_other(tmp_path):
    """staging's simulator is stopped: a command there ends in a private error after its
    retries, while prod's channel, asked just after, gets its card first; /healthz stays 200
    (not every profile is unreachable)."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    async with FakeSlack() as slack:
        add_channels(slack)
        with two_projects(clock, "all-success") as (prod, staging):
            config.write_text(config_text(prod, staging))
            env = profiles_environment(config, slack, tmp_path / "bot.sqlite3")
            async with bot_process(env, tmp_path / "bot.log") as bot:
                staging.server.stop()
                text = f"show {staging.workflow} {staging.current_run()}"
                hook = await command(slack, bot, text, STAGING_CHANNEL)
                card = await show_in_own_channel(slack, bot, prod)
                [error] = await slack.wait_for(lambda c: is_answer(c, hook), timeout=60)
                async with httpx.AsyncClient() as client:
                    health = await client.get(f"http://127.0.0.1:{bot.port}/healthz")
                await bot.stop()

    assert slack.calls.index(card) < slack.calls.index(error)
    assert error.args["response_type"] == "ephemeral"
    assert "reach AOM" in error.args["text"], error.args["text"]
    assert health.status_code == 200, health.text
