"""The access policy's decisions, and reloading the configuration (SIGHUP) while it serves."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from aom_bot.config import AkSkCredentials, Settings
from aom_bot.errors import ConfigError
from aom_bot.profiles import (
    AllowRule,
    BotConfig,
    LiveConfig,
    Permission,
    Policy,
    changed_credentials,
    load_bot_config,
)
from tests.core.test_profiles import EXAMPLE, SECRETS, write

R, F, S = Permission.READ, Permission.FOLLOW, Permission.SUBSCRIBE
T, RE, RUN = Permission.TERMINATE, Permission.RETRY, Permission.RUN
PROD_CH, STAGE_CH, OTHER_CH = "C0PROD0001", "C0STAGE001", "C0OTHER001"
ALICE, BOB = "U0ALICE01", "U0BOB0001"
ONCALL = frozenset({"S0ONCALL1"})


def example_policy(tmp_path: Path) -> Policy:
    settings = Settings(_env_file=None)
    return load_bot_config(settings, path=write(tmp_path, EXAMPLE), environ=SECRETS).policy


@pytest.mark.parametrize(
    ("permission", "profile", "channel", "user", "groups", "allowed"),
    [
        (R, "prod", PROD_CH, BOB, frozenset(), True),  # rule 1: anyone reads anywhere
        (F, "staging", OTHER_CH, BOB, frozenset(), True),
        (S, "prod", STAGE_CH, BOB, frozenset(), True),
        (T, "prod", PROD_CH, ALICE, frozenset(), True),  # rule 2: Alice by ID
        (RUN, "prod", PROD_CH, BOB, ONCALL, True),  # rule 2: Bob through the on-call group
        (RE, "prod", PROD_CH, BOB, frozenset(), False),  # Bob alone: no
        (T, "prod", STAGE_CH, ALICE, frozenset(), False),  # only in the prod channel
        (T, "staging", PROD_CH, ALICE, frozenset(), False),  # only the prod profile
        (RUN, "prod", PROD_CH, BOB, frozenset({"S0OTHER01"}), False),  # another group
    ],
)
def test_the_issues_policy_decides_as_written(
    tmp_path: Path,
    permission: Permission,
    profile: str,
    channel: str,
    user: str,
    groups: frozenset[str],
    allowed: bool,
) -> None:
    """Each rule applies only when profile, channel and (if given) user or group match."""
    policy = example_policy(tmp_path)
    decision = policy.allows(
        permission, profile=profile, channel_id=channel, user_id=user, user_groups=groups
    )
    assert decision is allowed


def test_with_a_file_what_no_rule_allows_is_denied() -> None:
    """No rules, no permission: not even read."""
    policy = Policy(())
    for permission in Permission:
        assert not policy.allows(permission, profile="p", channel_id=PROD_CH, user_id=ALICE)
        assert not policy.anyone_may(permission, profile="p", channel_id=PROD_CH)


def test_the_open_policy_is_read_follow_subscribe_for_everyone_and_no_actions() -> None:
    """Without a file: today's behaviour, and buttons that act are never shown."""
    policy = Policy.open()
    for permission in (R, F, S):
        assert policy.allows(permission, profile="default", channel_id="D0DM00001", user_id=BOB)
    for permission in (T, RE, RUN):
        assert not policy.allows(permission, profile="default", channel_id=PROD_CH, user_id=BOB)
        assert not policy.anyone_may(permission, profile="default", channel_id=PROD_CH)


def test_channels_default_to_any_and_star_matches_every_channel() -> None:
    """A rule without channels, or with "*", applies in every channel (and a DM)."""
    rule = AllowRule(frozenset({"p"}), frozenset({R}))
    assert rule.channels == {"*"}
    policy = Policy((rule,))
    for channel in (PROD_CH, "G0PRIVATE1", "D0DM00001"):
        assert policy.allows(R, profile="p", channel_id=channel, user_id=BOB)
    assert not policy.allows(R, profile="q", channel_id=PROD_CH, user_id=BOB)


def test_a_rule_with_users_and_groups_admits_either() -> None:
    """users OR groups: the listed user, or a member of a listed group; nobody else."""
    rule = AllowRule(frozenset({"*"}), frozenset({T}), users=frozenset({ALICE}), groups=ONCALL)
    policy = Policy((rule,))
    assert policy.allows(T, profile="p", channel_id=PROD_CH, user_id=ALICE)
    assert policy.allows(T, profile="p", channel_id=PROD_CH, user_id=BOB, user_groups=ONCALL)
    assert not policy.allows(T, profile="p", channel_id=PROD_CH, user_id=BOB)


def test_anyone_may_says_whether_a_button_is_worth_showing(tmp_path: Path) -> None:
    """Terminate: somebody may in the prod channel (show it), nobody in staging (hide it)."""
    policy = example_policy(tmp_path)
    assert policy.anyone_may(T, profile="prod", channel_id=PROD_CH)
    assert not policy.anyone_may(T, profile="prod", channel_id=STAGE_CH)
    assert not policy.anyone_may(T, profile="staging", channel_id=STAGE_CH)
    assert policy.anyone_may(R, profile="staging", channel_id=OTHER_CH)


def test_needs_groups_only_when_a_group_could_decide(tmp_path: Path) -> None:
    """Look membership up only when the user's ID alone does not settle it."""
    policy = example_policy(tmp_path)
    prod = {"profile": "prod", "channel_id": PROD_CH}
    assert policy.needs_groups(T, **prod, user_id=BOB)  # only the on-call group could allow
    assert not policy.needs_groups(T, **prod, user_id=ALICE)  # allowed by ID already
    assert not policy.needs_groups(R, **prod, user_id=BOB)  # allowed to everyone
    assert not policy.needs_groups(T, profile="prod", channel_id=STAGE_CH, user_id=BOB)
    assert policy.group_ids == ONCALL


# ---- reloading -----------------------------------------------------------------------------


def live_from(path: Path, environ: dict[str, str], **kwargs: object) -> LiveConfig:
    settings = Settings(_env_file=None)
    return LiveConfig(
        lambda: load_bot_config(settings, path=path, environ=environ),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_broken_file_on_reload_keeps_the_old_config_and_logs_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGHUP with an invalid file: refused, logged (file and error, no secret), old one stays."""
    path = write(tmp_path, EXAMPLE)
    live = live_from(path, SECRETS)
    before = live.current
    path.write_text(EXAMPLE.replace('token_env = "STAGING_TOKEN"', 'token = "Zz-INLINE-TOK-1"'))
    with caplog.at_level(logging.INFO, logger="aom_bot.config"):
        assert live.reload() is False
    assert live.current is before
    (record,) = [r for r in caplog.records if r.getMessage().startswith("config.")]
    line = record.getMessage()
    assert line.startswith(f"config.reload_refused file={path} error=")
    assert "profiles.staging.credentials.token" in line
    assert "Zz-INLINE-TOK-1" not in line
    assert "\n" not in line


def test_a_good_reload_applies_policy_bindings_and_rotated_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """New rules, bindings and the secrets' new values are in force; one line says so."""
    environ = dict(SECRETS)
    path = write(tmp_path, EXAMPLE)
    seen: list[tuple[BotConfig, BotConfig]] = []
    live = live_from(path, environ, on_reload=lambda old, new: seen.append((old, new)))
    old = live.current
    environ["PROD_SK"] = "prod-secret-key-value-0002"
    path.write_text(EXAMPLE.replace('C0STAGE001 = "staging"', 'C0STAGE001 = "prod"') +
                    '\n[[allow]]\nprofiles = ["staging"]\nactions = ["run"]\n')  # fmt: skip
    with caplog.at_level(logging.INFO, logger="aom_bot.config"):
        assert live.reload() is True
    new = live.current
    assert new.profile_for("C0STAGE001").name == "prod"
    assert new.policy.allows(RUN, profile="staging", channel_id=OTHER_CH, user_id=BOB)
    assert new.profiles["prod"].credentials == AkSkCredentials(
        "AKPRODKEY0001", SecretStr("prod-secret-key-value-0002")
    )
    assert changed_credentials(old, new) == ("prod",)
    assert seen == [(old, new)]
    assert [r.getMessage() for r in caplog.records] == ["config.reloaded profiles=2 rules=3"]


def test_adding_or_repointing_profiles_needs_a_restart_and_keeps_the_running_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A new profile, a removed one or a new endpoint waits for a restart (said in the log);
    bindings to a profile that is not running are left out, the rest applies."""
    path = write(tmp_path, EXAMPLE)
    live = live_from(path, SECRETS)
    before = live.current
    extra = (
        '\n[profiles.qa]\nregion = "cn-south-1"\nproject_id = "aaaabbbbccccddddaaaabbbbccccdddd"'
        '\ncredentials = { token_env = "STAGING_TOKEN" }\n'
    )
    text = EXAMPLE.replace("https://aom.example.internal", "https://aom2.example.internal")
    text = text.replace("[channels]\n", '[channels]\nC0QA000001 = "qa"\n') + extra
    path.write_text(text)
    with caplog.at_level(logging.INFO, logger="aom_bot.config"):
        assert live.reload() is True
    now = live.current
    assert list(now.profiles) == ["prod", "staging"]
    assert now.profiles["prod"] == before.profiles["prod"]  # old endpoint kept
    assert "C0QA000001" not in now.channels
    assert now.profile_for("C0PROD0001").name == "prod"
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "config.reload_needs_restart profiles=added:qa;changed:prod channels_unbound=C0QA000001",
        "config.reloaded profiles=2 rules=2",
    ]


def test_the_first_load_failing_stops_the_start() -> None:
    """LiveConfig's first load raises: the bot does not start with no configuration."""

    def broken() -> BotConfig:
        raise ConfigError("bad file")

    with pytest.raises(ConfigError):
        LiveConfig(broken)
