"""``aom-bot profiles`` and ``aom-bot config check``, driven as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aom_bot.cli import app
from tests.core.test_profiles import EXAMPLE, PROD, SECRETS, STAGING, write

runner = CliRunner()
ENV_AOM = {
    "CLOUD_SDK_AK": "AKENV0001",
    "CLOUD_SDK_SK": "env-secret-key-0001",
    "AOM_PROJECT_ID": PROD,
    "AOM_REGION": "cn-north-4",
}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory (./aom-bot.toml and .env are looked for there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def no_secret_in(output: str) -> None:
    for secret in (*SECRETS.values(), ENV_AOM["CLOUD_SDK_SK"]):
        assert secret not in output


def test_profiles_lists_name_region_project_source_and_channels(in_tmp: Path) -> None:
    """The table a person reads: every profile, where its keys come from, never the keys."""
    write(in_tmp, EXAMPLE)
    result = invoke("profiles", env=SECRETS)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "default: staging" in out
    for text in ("prod", "cn-north-4", PROD, "env PROD_AK/PROD_SK", "C0PROD0001"):
        assert text in out
    for text in ("staging", "cn-east-3", STAGING, "env STAGING_TOKEN", "C0STAGE001"):
        assert text in out
    no_secret_in(result.output)


def test_profiles_json_is_machine_readable_and_secret_free(in_tmp: Path) -> None:
    """--json: one object per profile, in order, on stdout only."""
    write(in_tmp, EXAMPLE)
    result = invoke("profiles", "--json", env=SECRETS)
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == ["prod", "staging"]
    assert rows[0]["channels"] == ["C0PROD0001"]
    assert rows[0]["two_person"] == ["run", "terminate"]
    assert rows[1]["default"] is True
    assert rows[1]["credential_source"] == "env STAGING_TOKEN"
    no_secret_in(result.output)


def test_profiles_without_a_file_shows_the_environments_profile(in_tmp: Path) -> None:
    """No file: the one profile "default" from the environment."""
    rows = json.loads(invoke("profiles", "--json", env=ENV_AOM).stdout)
    assert [(r["name"], r["region"], r["project_id"]) for r in rows] == [
        ("default", "cn-north-4", PROD)
    ]
    assert rows[0]["credential_source"] == "environment (CLOUD_SDK_AK/CLOUD_SDK_SK)"


def test_profiles_with_nothing_configured_exits_2_saying_so(in_tmp: Path) -> None:
    """Neither a file nor AOM settings: a usage error that explains both."""
    result = invoke("profiles")
    assert result.exit_code == 2
    assert "No configuration file" in result.stderr
    assert "AOM_PROJECT_ID is not set" in result.stderr


def test_config_check_prints_a_summary_and_exits_0(in_tmp: Path) -> None:
    """A valid file: N profiles, M channel bindings, K rules."""
    path = write(in_tmp, EXAMPLE)
    result = invoke("config", "check", env=SECRETS)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: OK, 2 profiles, 2 channel bindings, 2 rules\n"


def test_config_check_takes_a_file_argument(in_tmp: Path) -> None:
    """FILE wins over ./aom-bot.toml and AOM_BOT_CONFIG."""
    write(in_tmp, "not toml at all [")
    other = write(in_tmp, EXAMPLE, name="prod.toml")
    env = {**SECRETS, "AOM_BOT_CONFIG": str(in_tmp / "aom-bot.toml")}
    result = invoke("config", "check", str(other), env=env)
    assert result.exit_code == 0, result.output
    assert "2 profiles" in result.stdout


def test_config_check_of_an_inline_secret_exits_2_naming_the_key_not_the_secret(
    in_tmp: Path,
) -> None:
    """The issue's case: exit 2, the key named (not redacted away), the value nowhere."""
    secret = "Xy7-INLINE-SK-VALUE-99"
    text = EXAMPLE.replace('sk_env = "PROD_SK"', f'sk = "{secret}"')
    path = write(in_tmp, text, name="bad.toml")
    result = invoke("config", "check", str(path), env=SECRETS)
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert "profiles.prod.credentials.sk is a secret" in result.stderr
    assert 'sk_env = "NAME"' in result.stderr
    assert secret not in result.output
    assert result.stdout == ""


def test_config_check_of_a_missing_file_or_variable_exits_2(in_tmp: Path) -> None:
    """A file that is not there, or a secret variable that is unset: exit 2, named."""
    missing = invoke("config", "check", str(in_tmp / "nope.toml"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
    write(in_tmp, EXAMPLE)
    unset = invoke("config", "check", env={"PROD_AK": "x", "PROD_SK": "y"})
    assert unset.exit_code == 2
    assert "profiles.staging.credentials.token_env" in unset.stderr
    assert "STAGING_TOKEN is not set" in unset.stderr


def test_config_check_without_a_file_checks_the_environment(in_tmp: Path) -> None:
    """No file: the environment's one profile and the open policy."""
    result = invoke("config", "check", env=ENV_AOM)
    assert result.exit_code == 0, result.output
    assert "1 profile, 0 channel bindings, 1 rule" in result.stdout


def test_config_without_a_command_shows_its_help() -> None:
    """``aom-bot config`` lists ``check``."""
    result = runner.invoke(app, ["config"])
    assert "check" in result.output
