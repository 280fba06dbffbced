"""The command line, driven as a user would: exit codes, clean stdout, no stack traces."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aom_bot.cli import app

runner = CliRunner()

PROJECT = "0123456789abcdef0123456789abcdef"


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def test_show_against_the_simulator_lists_failed_hosts_and_exits_1():
    """The demo's last run failed: the view names the failed hosts and the exit code says so."""
    result = invoke("show", "--simulator")
    assert result.exit_code == 1, result.output
    assert "fail" in result.stdout
    assert "exit code 1" in result.stdout
    assert "Not a directory" in result.stdout


def test_json_output_is_the_only_thing_on_stdout():
    """--json prints parseable JSON of the parsed model and nothing else on stdout."""
    result = invoke("show", "--simulator", "--json")
    data = json.loads(result.stdout)
    assert data["status"] == "fail"
    assert data["nodes"][0]["buckets"]["fail"]


def test_blocks_output_is_a_slack_message():
    """--blocks prints {"text", "blocks"} ready for Block Kit Builder."""
    result = invoke("show", "--simulator", "--blocks")
    message = json.loads(result.stdout)
    assert set(message) == {"text", "blocks"}
    assert message["blocks"][0]["type"] == "header"
    assert "fail" in message["text"]


def test_executions_and_workflows_list_the_simulator():
    """The listing commands work and their JSON forms are machine-readable."""
    workflows = json.loads(invoke("workflows", "--simulator", "--json").stdout)
    names = {w["name"] for w in workflows}
    assert "rotate-logs" in names
    wf = next(w["id"] for w in workflows if w["name"] == "rotate-logs")
    runs = json.loads(invoke("executions", wf, "--simulator", "--json", "-n", "2").stdout)
    assert len(runs) == 2
    assert runs[0]["begin_time"] >= runs[1]["begin_time"]
    table = invoke("executions", wf, "--simulator")
    assert table.exit_code == 0
    assert runs[0]["execution_id"][:8] in table.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("show", "../../v3/auth/tokens", "e1"),
        ("show", "wf1", "e1?x=1"),
        ("show", "not-a-link-and-no-second-id"),
        ("show", "--json", "--blocks", "a", "b"),
        ("executions", "bad id with spaces"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(args):
    """Invalid IDs and option clashes are usage errors (exit 2), explained on stderr."""
    result = runner.invoke(
        app,
        list(args),
        env={
            "CLOUD_SDK_AK": "AK",
            "CLOUD_SDK_SK": "SK",
            "AOM_PROJECT_ID": PROJECT,
            "AOM_REGION": "cn-north-4",
        },
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_missing_configuration_exits_2_naming_the_variable():
    """With no credentials at all the user is told which variables to set."""
    result = runner.invoke(app, ["show", "wf1", "ex1"], env={"AOM_PROJECT_ID": PROJECT})
    assert result.exit_code == 2
    assert "CLOUD_SDK_AK" in result.stderr


def test_unreachable_aom_exits_3_without_leaking_the_secret_key():
    """A network failure is exit 3 with an actionable message; the SK never shows."""
    env = {
        "CLOUD_SDK_AK": "AKEXAMPLE",
        "CLOUD_SDK_SK": "Zq9-very-secret",
        "AOM_PROJECT_ID": PROJECT,
        "AOM_ENDPOINT": "http://127.0.0.1:9",
        "AOM_TIMEOUT_SECONDS": "2",
    }
    result = runner.invoke(app, ["show", "wf1", "ex1"], env=env)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "Zq9-very-secret" not in result.output
    assert result.stdout == ""


def test_help_documents_exit_codes():
    """--help explains what each exit code means."""
    result = invoke("--help")
    assert "Exit codes" in result.stdout
    assert "3 AOM or network error" in " ".join(result.stdout.split())


def test_check_without_slack_configuration_names_what_to_set():
    """`aom-bot check` reports each problem on its own line and exits 2."""
    result = runner.invoke(app, ["check", "--simulator"])
    assert result.exit_code == 2, result.output
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.output


def test_check_exits_3_only_when_nothing_but_aom_or_slack_failed():
    """A refusal or silence from AOM or Slack is exit 3, as for the other commands; anything
    wrong here (a missing token, a store that cannot be opened) is exit 2, and wins."""
    from aom_bot.bot_checks import exit_code
    from aom_bot.slack.check import CheckResult

    fine = CheckResult("Slack bot token", True, "set.")
    aom_down = CheckResult("AOM request (staging)", False, "AOM did not answer.", remote=True)
    no_token = CheckResult("Slack bot token", False, "SLACK_BOT_TOKEN is not set.")
    assert exit_code([fine]) == 0
    assert exit_code([fine, aom_down]) == 3
    assert exit_code([no_token, aom_down]) == 2


def test_run_without_slack_tokens_is_a_configuration_error():
    """The bot refuses to start without its Slack tokens, naming them."""
    result = runner.invoke(app, ["run", "--simulator", "--mode", "socket"])
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_APP_TOKEN" in result.stderr


def test_simulate_prints_the_environment_lines_and_serves(tmp_path):
    """`aom-bot simulate --port 0` prints working AOM_* lines; the CLI then reaches it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AOM_", "CLOUD_SDK_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "aom_bot", "simulate", "--port", "0", "--scenario", "all-success"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines: dict[str, str] = {}
        exported: list[str] = []
        while len(lines) < 5:
            line = process.stdout.readline()
            assert line, "simulate exited before printing its environment"
            if "=" in line and not line.startswith("#"):
                assert line.startswith("export "), line  # pasted into a shell, they carry over
                key, value = line.strip().removeprefix("export ").split("=", 1)
                lines[key] = value
                exported.append(line.strip())
        assert set(lines) == {
            "AOM_ENDPOINT", "AOM_IAM_ENDPOINT", "AOM_PROJECT_ID", "CLOUD_SDK_AK", "CLOUD_SDK_SK",
        }  # fmt: skip
        for _ in range(100):  # the server binds right after printing; give it a moment
            listed = runner.invoke(app, ["workflows", "--json"], env=lines)
            if listed.exit_code == 0:
                break
        assert listed.exit_code == 0, listed.output
        assert [w["name"] for w in json.loads(listed.stdout)] == ["deploy-nginx"]
        shell = subprocess.run(
            ["sh", "-c", "\n".join([*exported, "env"])], capture_output=True, text=True, env={}
        )
        assert f"AOM_ENDPOINT={lines['AOM_ENDPOINT']}" in shell.stdout.splitlines()
        (tmp_path / ".env").write_text("\n".join(exported) + "\n", encoding="utf-8")
        from aom_bot.config import Settings

        from_dotenv = Settings(_env_file=tmp_path / ".env")  # type: ignore[call-arg]
        assert from_dotenv.aom_endpoint == lines["AOM_ENDPOINT"]  # also valid .env lines
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_migrate_creates_the_default_state_directory(tmp_path):
    """On a fresh machine the default SQLite store's directory is created, not an error."""
    state = tmp_path / "does" / "not" / "exist"
    result = runner.invoke(app, ["migrate"], env={"AOM_BOT_STATE_DIR": str(state)})
    assert result.exit_code == 0, result.output
    assert (state / "aom-bot.sqlite3").exists()
    assert "schema version" in result.stderr


def test_run_rejects_tokens_of_the_wrong_kind_without_showing_them():
    """A user token or a bot token pasted as the app token is caught before any Slack call."""
    env = {"SLACK_BOT_TOKEN": "xoxp-user-token-123", "SLACK_APP_TOKEN": "xoxb-bot-token-456"}
    result = runner.invoke(app, ["run", "--simulator", "--mode", "socket"], env=env)
    assert result.exit_code == 2
    assert "does not look like a bot token" in result.stderr
    assert "does not look like an app-level token" in result.stderr
    assert "xoxp-user-token-123" not in result.output
    assert "xoxb-bot-token-456" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        (
            "show",
            "--simulator",
            "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b",
            "e3000000-0000-4000-8000-00000000009",
        ),
        ("executions", "--simulator", "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b"),
    ],
)
def test_wrong_ids_get_one_line_naming_the_cli_command(args):
    """An unknown ID: one error naming `aom-bot executions` (not the Slack command), no log
    line before it, exit 3."""
    result = runner.invoke(app, list(args), env={"AOM_BOT_LOG_LEVEL": None})
    assert result.exit_code == 3, result.output
    assert "aom-bot executions WORKFLOW_ID" in result.stderr
    assert "/aom-exec" not in result.stderr
    assert "aom.request.rejected" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_show_all_prints_every_failed_host_and_help_documents_it():
    """`show --all` is the terminal's full list; it is in --help, with Ctrl-C's exit code."""
    result = invoke("show", "--simulator", "--all")
    assert result.exit_code == 1, result.output
    assert "Not a directory" in result.stdout
    assert "more host" not in result.stdout
    clash = runner.invoke(app, ["show", "--simulator", "--all", "--json"])
    assert clash.exit_code == 2
    assert clash.stdout == ""
    show_help = " ".join(invoke("show", "--help").stdout.split())
    assert "--all" in show_help
    assert "every failed host" in show_help
    assert "130" in show_help
    assert "130 interrupted" in " ".join(invoke("--help").stdout.split())


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (lambda p: p.write_text("AOM_REGION=cn-north-4\n", encoding="utf-16"), "UTF-16"),
        (lambda p: p.write_bytes(b"AOM_REGION=cn-north-4\nX=\xe9t\xe9\n"), "not UTF-8"),
        (lambda p: p.mkdir(), "Is a directory"),
    ],
)
def test_an_unreadable_dotenv_is_one_line_naming_the_file(tmp_path, monkeypatch, write, problem):
    """A .env that is UTF-16 (PowerShell's >), not UTF-8 or not a readable file: exit 2, one line."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / ".env")
    result = runner.invoke(app, ["workflows", "--simulator"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert str(tmp_path / ".env") in " ".join(result.stderr.split()) or ".env" in line
    assert problem in " ".join(result.stderr.split())


def test_a_silent_aom_ends_the_command_at_its_deadline_saying_so(silent_port):
    """AOM accepts and never answers: exit 3 at the command's deadline, naming what timed out."""
    import time

    env = {
        "CLOUD_SDK_AK": "AKEXAMPLE",
        "CLOUD_SDK_SK": "SKEXAMPLE",
        "AOM_PROJECT_ID": PROJECT,
        "AOM_ENDPOINT": f"http://127.0.0.1:{silent_port}",
        "AOM_BOT_COMMAND_TIMEOUT_SECONDS": "1.5",
    }
    started = time.monotonic()
    result = runner.invoke(app, ["workflows"], env=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    said = " ".join(result.stderr.split())
    assert f"AOM (http://127.0.0.1:{silent_port}) did not answer within 1.5 s" in said
    assert "AOM_BOT_COMMAND_TIMEOUT_SECONDS" in said
    assert elapsed < 30  # the deadline, not 3 x AOM_TIMEOUT_SECONDS of retries


def test_a_postgresql_port_that_never_answers_fails_migrate_quickly(silent_port):
    """migrate against a port that accepts but never speaks PostgreSQL: exit 2, said plainly."""
    env = {"AOM_BOT_DATABASE_URL": f"postgresql://bot:pw-secret@127.0.0.1:{silent_port}/aom"}
    result = runner.invoke(app, ["migrate"], env=env)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert f"PostgreSQL at postgresql://bot:***@127.0.0.1:{silent_port}/aom" in said or (
        f"127.0.0.1:{silent_port}" in said
    )
    assert "did not answer within 5 s" in said
    assert "pw-secret" not in result.output


def test_version_prints_the_package_version():
    """`aom-bot --version` prints the installed version on stdout."""
    from aom_bot import __version__

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"aom-bot {__version__}"


def test_simulate_on_a_busy_port_says_so_before_printing_anything():
    """Another process holds the port: exit 2 naming it, and no environment lines on stdout."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["simulate", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    said = " ".join(result.stderr.split())
    assert f"Cannot listen on 127.0.0.1:{port}: the port is already in use" in said
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["run", "--simulator"], ["check", "--simulator"]])
def test_with_no_slack_settings_both_modes_and_their_needs_are_named(command):
    """Nothing about Slack is set: the user learns both ways to run and what each one needs."""
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "Socket Mode" in said
    assert "SLACK_APP_TOKEN" in said
    assert "HTTP mode" in said
    assert "SLACK_SIGNING_SECRET" in said
    assert "Traceback" not in result.output
