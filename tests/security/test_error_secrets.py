"""AOM and IAM error text that echoes the configured secrets never shows them (issue 10, item 1).

The gateway below answers 401 and quotes the request — headers, the IAM password body — plus
the configured secrets in ``key=value`` and bare form. Whatever the bot prints, logs or sends to
Slack must hold none of them.
"""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from aom_bot.cli import app
from aom_bot.render.kit import section
from aom_bot.slack.webclient import build_web_client
from tests.fakes.slack_api import FakeSlack
from tests.security.echo_server import echo_server
from tests.slack.harness import running_bot, text_of

PROJECT = "0123456789abcdef0123456789abcdef"
SK = "Zq9sEcReTskValue0042"
TOKEN = "MIItokenVALUEshort-7788"
PASSWORD = "hunter2-Pa55word!"
ECHO = f"sk={SK} X-Auth-Token={TOKEN} password={PASSWORD} and bare: {SK} {TOKEN} {PASSWORD}"

runner = CliRunner()


def _env(kind: str, url: str) -> dict[str, str]:
    env = {"AOM_PROJECT_ID": PROJECT, "AOM_ENDPOINT": url}
    if kind == "aksk":
        env |= {"CLOUD_SDK_AK": "AKEXAMPLEAKEXAMPLE00", "CLOUD_SDK_SK": SK}
    elif kind == "token":
        env |= {"AOM_TOKEN": TOKEN}
    else:
        env |= {
            "AOM_IAM_USER": "ops-bot",
            "AOM_IAM_PASSWORD": PASSWORD,
            "AOM_IAM_DOMAIN": "acme",
            "AOM_IAM_ENDPOINT": url,
        }
    return env


CONFIGURED = {"aksk": SK, "token": TOKEN, "iam": PASSWORD}


def _leaks(text: str, kind: str) -> list[str]:
    """The configured secret anywhere, or any of them in ``key=value`` form (the scrubber's)."""
    found = [CONFIGURED[kind]] if CONFIGURED[kind] in text else []
    return found + [f"={s}" for s in (SK, TOKEN, PASSWORD) if f"={s}" in text]


@pytest.mark.parametrize("kind", ["aksk", "token", "iam"])
@pytest.mark.parametrize("command", ["show", "check"])
def test_echoed_secrets_never_reach_the_terminal_or_the_log(kind: str, command: str) -> None:
    """`show` and `check` against a 401 that quotes the credentials: told it was refused, no
    secret on stdout or stderr (where the log goes too)."""
    with echo_server(ECHO) as url:
        args = ["show", "wf1", "ex1"] if command == "show" else ["check"]
        result = runner.invoke(app, args, env=_env(kind, url))
    output = result.stdout + result.stderr
    assert result.exit_code in (2, 3), output
    assert "refused" in output, output
    assert _leaks(output, kind) == [], output
    assert "Traceback" not in output


def _echoing_aom(request: httpx.Request) -> httpx.Response:
    """AOM behind a gateway that answers 401 quoting the request and the credentials."""
    said = f"Incorrect authentication {ECHO}; headers: {dict(request.headers)}"
    return httpx.Response(401, json={"error_code": "APIGW.0301", "error_msg": said})


async def test_echoed_secrets_never_reach_slack() -> None:
    """`/aom-exec show` against that AOM: the user is told AOM refused the credentials, and no
    request the bot makes to (fake) Slack carries a configured secret or a shaped one."""
    secrets = (SK, TOKEN, PASSWORD)
    async with running_bot(aom_transport=httpx.MockTransport(_echoing_aom), secrets=secrets) as bot:
        response = await bot.command("show wf1 ex1")
        assert response.status_code == 200
        reply = await bot.hook_post()
        sent = json.dumps([call.args for call in bot.slack.calls])
    assert "refused the credentials" in text_of(reply)
    assert [s for s in secrets if s in sent] == []


async def test_web_api_calls_mask_configured_secrets_but_still_authenticate() -> None:
    """A message that quotes a configured secret is posted with it masked; the token the call
    itself needs is untouched (the post succeeds)."""
    async with FakeSlack() as slack:
        client = build_web_client(slack.bot_token, base_url=slack.base_url, secrets=(SK,))
        try:
            await client.chat_postMessage(
                channel=slack.general, text=f"sk is {SK}", blocks=[section(f"*{SK}*")]
            )
        finally:
            await client.aclose()
        posted = slack.messages(slack.general)[-1]
    assert SK not in json.dumps(posted)
    assert "[redacted]" in posted["text"]
