"""The command line with a profiles file, as real processes: `aom-bot check` naming the profile
whose AOM is down, an inline secret stopping `run` and `config check` with exit 2, `--profile`
on the reading commands, and the README's example file and worked example as printed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.profiles_harness import (
    PROD_SK,
    STAGING_TOKEN,
    config_text,
    profiles_environment,
    two_projects,
)
from tests.e2e.test_bot_process import HandClock, free_port
from tests.fakes.slack_api import FakeSlack

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes"),
]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aom_bot", *args],
        env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


async def test_check_names_the_profile_whose_aom_is_down(tmp_path):
    """`aom-bot check` with staging's simulator stopped: prod's line passes, staging's fails
    under its name, and the exit code is AOM's (3): nothing configured here is wrong."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    async with FakeSlack() as slack:
        with two_projects(clock, "all-success") as (prod, staging):
            config.write_text(config_text(prod, staging))
            env = profiles_environment(config, slack, tmp_path / "bot.sqlite3")
            env["AOM_TIMEOUT_SECONDS"] = "5"
            env["COLUMNS"] = "1000"  # one line per check (rich wraps at COLUMNS)
            staging.server.stop()
            result = await asyncio.to_thread(run_cli, "check", env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 3, out
    lines = out.splitlines()
    assert any(line.startswith("✓ AOM request (prod):") for line in lines), out
    [failed] = [line for line in lines if line.startswith("✗ AOM request (staging):")]
    assert "the profile's endpoint / region in the configuration file" in failed
    assert "✓ Configuration file:" in out
    assert prod.requests.count("workflow-list") == 1
    assert PROD_SK not in out
    assert STAGING_TOKEN not in out


def test_an_inline_secret_stops_run_and_config_check_with_exit_2_without_echoing_it(tmp_path):
    """`sk = "..."` in the file: `run` and `config check` (by AOM_BOT_CONFIG and by argument)
    exit 2 naming profiles.prod.credentials.sk; the value is in neither stdout nor stderr."""
    inline = "inline-secret-value-4c1d9e"
    config = tmp_path / "aom-bot.toml"
    config.write_text(
        f"""
[profiles.prod]
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
credentials = {{ ak_env = "PROD_AK", sk = "{inline}" }}

[[allow]]
profiles = ["*"]
actions = ["read"]
"""
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AOM_", "CLOUD_"))},
        "AOM_BOT_CONFIG": str(config),
        "PROD_AK": "PRODE2EACCESSKEY0001",
        "SLACK_BOT_TOKEN": "xoxb-not-used",
        "SLACK_SIGNING_SECRET": "not-used",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never reached: the file stops it first
        "AOM_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
    }
    runs = {
        "run": run_cli("run", "--mode", "http", "--port", str(free_port()), env=env),
        "config check": run_cli("config", "check", env=env),
        "config check FILE": run_cli(
            "config", "check", str(config), env={**env, "AOM_BOT_CONFIG": ""}
        ),
    }
    for what, result in runs.items():
        out = result.stdout + result.stderr
        assert result.returncode == 2, (what, out)
        assert "profiles.prod.credentials.sk" in out, (what, out)
        assert str(config) in out, (what, out)
        assert inline not in out, what
        assert "Traceback" not in out, (what, out)
    assert not (tmp_path / "bot.sqlite3").exists()


async def test_cli_profile_option_reads_the_named_project_only(tmp_path):
    """`aom-bot executions --profile NAME` and `show --profile NAME` ask that profile's AOM,
    with its credentials; without the option, default_profile (staging) is used."""
    clock = HandClock()
    config = tmp_path / "aom-bot.toml"
    async with FakeSlack() as slack:
        with two_projects(clock, "all-success") as (prod, staging):
            config.write_text(config_text(prod, staging))
            env = profiles_environment(config, slack, tmp_path / "bot.sqlite3")
            prod_run = prod.current_run()
            shown = await asyncio.to_thread(
                run_cli, "show", "--profile", "prod", prod.workflow, prod_run, "--json", env=env
            )
            assert staging.requests.total == 0
            listed = await asyncio.to_thread(
                run_cli, "executions", staging.workflow, "--json", env=env
            )
    assert shown.returncode == 0, shown.stderr
    assert prod_run in shown.stdout
    assert prod.executions_asked() == {prod_run}
    assert listed.returncode == 0, listed.stderr
    assert staging.current_run() in listed.stdout
    assert staging.workflows_asked() == {staging.workflow}
    assert prod.workflows_asked() == {prod.workflow}


def readme_block(after: str, language: str) -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index(after) :]
    start = section.index(f"```{language}\n") + len(f"```{language}\n")
    return section[start : section.index("```", start)]


def test_the_readme_example_file_is_valid_and_the_worked_example_prints_what_it_says(tmp_path):
    """The README's profiles file passes `config check`, and the worked example's outputs of
    `config check` and `profiles` are what the commands print for it."""
    config = tmp_path / "aom-bot.toml"
    config.write_text(readme_block("## Profiles and access policy", "toml"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AOM_", "CLOUD_"))},
        "AOM_BOT_CONFIG": str(config),
        "PROD_AK": "PRODE2EACCESSKEY0001",
        "PROD_SK": PROD_SK,
        "STAGING_TOKEN": STAGING_TOKEN,
        "COLUMNS": "200",  # a long tmp path: no wrapping
    }
    checked = run_cli("config", "check", env=env)
    listed = run_cli("profiles", env=env)
    assert checked.returncode == 0, checked.stderr
    assert listed.returncode == 0, listed.stderr
    worked = readme_block("### Worked example: prod and staging", "sh")
    shown = "/etc/aom-bot/aom-bot.toml"
    assert f"# {checked.stdout.strip().replace(str(config), shown)}" in worked
    expected = readme_block("### Worked example: prod and staging", "text")
    assert listed.stdout.replace(str(config), shown).strip() == expected.strip()
