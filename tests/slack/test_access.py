"""Access: which profile a request means, and who may do what there (no Slack, no AOM)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from aom_bot.aom.accounts import AomAccount, AomAccounts
from aom_bot.config import StaticTokenCredentials
from aom_bot.errors import PermissionDenied, UnknownProfileError
from aom_bot.profiles import AllowRule, BotConfig, Permission, Policy, Profile
from aom_bot.slack.access import Access

OPS, ELSEWHERE = "C0OPS00001", "C0ELSE0001"


def _profile(name: str) -> Profile:
    return Profile(
        name=name, region="cn-north-4", project_id="p" * 32,
        endpoint="https://aom.example", credentials=StaticTokenCredentials(SecretStr("t")),
        credential_source="env T",
    )  # fmt: skip


@dataclass
class _Config:
    current: BotConfig


def _access() -> Access:
    names = ("prod", "secret-project")
    rules = (
        AllowRule(frozenset({"prod"}), frozenset({Permission.READ}), channels=frozenset({OPS})),
        AllowRule(frozenset({"secret-project"}), frozenset({Permission.READ}),
                  channels=frozenset({ELSEWHERE})),
    )  # fmt: skip
    config = BotConfig(
        profiles={n: _profile(n) for n in names}, default_profile="prod",
        channels={OPS: "prod"}, policy=Policy(rules),
    )  # fmt: skip
    accounts = AomAccounts(
        AomAccount(name=n, region="cn-north-4", project_id="p", commands=None, polling=None)  # type: ignore[arg-type]
        for n in names
    )
    return Access(accounts, _Config(config))


async def test_an_unknown_profile_names_only_what_may_be_read_here() -> None:
    """A typo in --profile lists the profiles someone may read in this channel, never the
    others: a Slack user learns no other project's name."""
    with pytest.raises(UnknownProfileError) as caught:
        await _access().account(Permission.READ, channel_id=OPS, user_id="U1", explicit="prdo")
    shown = caught.value.user_message()
    assert "prod" in shown
    assert "secret-project" not in shown


async def test_a_button_naming_a_removed_profile_is_unknown_not_a_crash() -> None:
    with pytest.raises(UnknownProfileError) as caught:
        await _access().require(Permission.READ, profile="gone", channel_id=OPS, user_id="U1")
    assert "secret-project" not in caught.value.user_message()


async def test_reading_another_channels_profile_is_refused_by_name() -> None:
    with pytest.raises(PermissionDenied) as caught:
        await _access().account(
            Permission.READ, channel_id=OPS, user_id="U1", explicit="secret-project"
        )
    assert caught.value.permission == "read"
    assert caught.value.profile == "secret-project"
