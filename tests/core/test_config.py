"""Configuration: one clear error naming what to fix; secrets never shown."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from aom_bot.config import (
    AkSkCredentials,
    IamAgencyCredentials,
    IamPasswordCredentials,
    Settings,
    StaticTokenCredentials,
    load_settings,
)
from aom_bot.errors import ConfigError

PROJECT = "0123456789abcdef0123456789abcdef"


def test_environment_variables_are_read_by_their_documented_names(monkeypatch):
    """Every documented variable name reaches the matching setting."""
    monkeypatch.setenv("CLOUD_SDK_AK", "AKEXAMPLE1234")
    monkeypatch.setenv("CLOUD_SDK_SK", "sk-secret-value")
    monkeypatch.setenv("AOM_PROJECT_ID", PROJECT)
    monkeypatch.setenv("AOM_REGION", "cn-north-4")
    monkeypatch.setenv("AOM_BOT_POLL_MIN_SECONDS", "0.5")
    monkeypatch.setenv("AOM_BOT_POLL_MAX_SECONDS", "2")
    monkeypatch.setenv("AOM_BOT_SCRUB_PATTERNS", "token-[0-9]+\ncorp,secret")
    settings = load_settings()
    assert isinstance(settings.aom_auth(), AkSkCredentials)
    assert settings.project_id() == PROJECT
    assert settings.aom_endpoint_url() == "https://aom.cn-north-4.myhuaweicloud.com"
    assert (settings.aom_bot_poll_min_seconds, settings.aom_bot_poll_max_seconds) == (0.5, 2.0)
    assert settings.aom_bot_scrub_patterns == ["token-[0-9]+", "corp,secret"]


def test_endpoint_override_wins_over_region():
    """AOM_ENDPOINT points the bot at a private endpoint or the simulator."""
    settings = Settings(aom_region="cn-north-4", aom_endpoint="http://127.0.0.1:8642/")
    assert settings.aom_endpoint_url() == "http://127.0.0.1:8642"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({}, "CLOUD_SDK_AK"),
        ({"cloud_sdk_ak": "AK"}, "CLOUD_SDK_SK"),
        ({"cloud_sdk_sk": "SK"}, "CLOUD_SDK_AK"),
        ({"cloud_sdk_ak": "AK", "cloud_sdk_sk": "SK", "aom_token": "T"}, "AOM_TOKEN"),
        ({"aom_iam_user": "u", "aom_iam_password": "p"}, "AOM_IAM_DOMAIN"),
        ({"aom_token": "T", "aom_iam_user": "u"}, "AOM_IAM_USER"),
    ],
)
def test_missing_or_contradictory_credentials_name_the_variables(kwargs, named):
    """The error says which variable to set or unset."""
    with pytest.raises(ConfigError) as caught:
        Settings(**kwargs).aom_auth()
    assert named in caught.value.user_message()


def test_each_credential_kind_is_recognised():
    """AK/SK, a static token, an IAM user and an IAM agency are the four ways in."""
    assert isinstance(Settings(aom_token="tok").aom_auth(), StaticTokenCredentials)
    user = Settings(aom_iam_user="u", aom_iam_password="p", aom_iam_domain="d").aom_auth()
    assert isinstance(user, IamPasswordCredentials)
    agency = Settings(
        aom_iam_user="u",
        aom_iam_password="p",
        aom_iam_domain="d",
        aom_iam_agency_domain="other",
        aom_iam_agency_name="ops",
    ).aom_auth()
    assert isinstance(agency, IamAgencyCredentials)
    with pytest.raises(ConfigError, match="AGENCY"):
        Settings(
            aom_iam_user="u", aom_iam_password="p", aom_iam_domain="d", aom_iam_agency_name="x"
        ).aom_auth()


def test_missing_project_and_endpoint_are_named():
    """Without a project or a region there is nothing to call; the message names both."""
    with pytest.raises(ConfigError, match="AOM_PROJECT_ID"):
        Settings().project_id()
    with pytest.raises(ConfigError, match="AOM_REGION"):
        Settings().aom_endpoint_url()


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("AOM_REGION", "Not A Region", "AOM_REGION"),
        ("AOM_PROJECT_ID", "../../etc", "AOM_PROJECT_ID"),
        ("AOM_ENDPOINT", "ftp://x", "AOM_ENDPOINT"),
        ("AOM_BOT_POLL_MIN_SECONDS", "-1", "AOM_BOT_POLL_MIN_SECONDS"),
        ("AOM_BOT_POLL_MIN_SECONDS", "40", "AOM_BOT_POLL_MIN_SECONDS"),
        ("AOM_BOT_SCRUB_PATTERNS", "([unclosed", "AOM_BOT_SCRUB_PATTERNS"),
        ("AOM_BOT_LOG_LEVEL", "chatty", "AOM_BOT_LOG_LEVEL"),
    ],
)
def test_malformed_values_give_one_clear_error(monkeypatch, env, value, named):
    """A malformed value is a ConfigError naming the variable, not a pydantic traceback."""
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert named in str(caught.value)


def test_secrets_never_appear_in_repr_or_errors(monkeypatch):
    """SK, tokens and passwords print masked everywhere."""
    secrets = {
        "CLOUD_SDK_SK": "sk-very-secret-1",
        "AOM_TOKEN": "tok-very-secret-2",
        "AOM_IAM_PASSWORD": "pw-very-secret-3",
        "SLACK_BOT_TOKEN": "xoxb-very-secret-4",
        "SLACK_SIGNING_SECRET": "signing-very-secret-5",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AOM_REGION", "bad region")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    monkeypatch.setenv("AOM_REGION", "cn-north-4")
    settings = load_settings()
    shown = " ".join([repr(settings), str(settings), caught.value.user_message()])
    with pytest.raises(ConfigError) as contradictory:
        settings.aom_auth()
    shown += contradictory.value.user_message()
    for value in secrets.values():
        assert value not in shown


def test_aksk_credentials_repr_hides_the_secret_key():
    """Even the credentials object masks its SK (and most of the AK)."""
    creds = AkSkCredentials(ak="AKIDEXAMPLE123", sk=SecretStr("sk-hidden"))
    assert "sk-hidden" not in repr(creds)
    assert "AKIDEXAMPLE123" not in repr(creds)


def test_default_database_is_a_sqlite_file_in_the_state_directory(tmp_path):
    """No database configured: an embedded SQLite file under AOM_BOT_STATE_DIR."""
    settings = Settings(aom_bot_state_dir=tmp_path)
    assert settings.database_url() == f"sqlite:///{tmp_path / 'aom-bot.sqlite3'}"
    assert Settings(aom_bot_database_url="postgresql://db/x").database_url() == "postgresql://db/x"


def test_default_state_directory_follows_xdg_state_home(monkeypatch, tmp_path):
    """$XDG_STATE_HOME/aom-bot when set (and absolute), else ~/.local/state/aom-bot."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert Settings().aom_bot_state_dir == tmp_path / "state" / "aom-bot"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings().aom_bot_state_dir == tmp_path / "home" / ".local" / "state" / "aom-bot"
    monkeypatch.setenv("AOM_BOT_STATE_DIR", str(tmp_path / "explicit"))
    assert Settings().aom_bot_state_dir == tmp_path / "explicit"
