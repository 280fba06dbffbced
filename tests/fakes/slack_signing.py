"""Request bodies and signatures exactly as Slack sends them to an app, for tests.

HTTP mode: ``sign_request(body, secret, timestamp)`` gives the headers Bolt verifies
(``v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``). The body builders produce the raw strings
(url-encoded slash command, ``payload=<json>`` interactivity, JSON Events API); the
``*_fields``/``*_payload``/``event_callback`` twins give the same data as dicts, which is what
Socket Mode envelopes carry. Defaults match ``FakeSlack``'s workspace.

Example::

    body = slash_command_body("help", response_url=fake.response_url(fake.general, fake.alice))
    headers = sign_request(body, "test-secret", timestamp=int(time.time()))
    await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

TEAM_ID = "T0FAKETEAM"
TEAM_DOMAIN = "fake-team"
APP_ID = "A0APPID"
BOT_USER_ID = "U0BOTUSER"
CHANNEL_ID = "C0GENERAL"
CHANNEL_NAME = "general"
USER_ID = "U0ALICE"
USER_NAME = "alice"
#: The deprecated verification token Slack still puts in bodies; apps must not trust it.
VERIFICATION_TOKEN = "fake-verification-token"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def signature(body: str, secret: str, timestamp: int) -> str:
    """``v0=<hex>``: HMAC-SHA256 of ``"v0:{timestamp}:{body}"`` keyed with the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def sign_request(body: str, secret: str, timestamp: int) -> dict[str, str]:
    """Headers of a Slack request carrying ``body`` (JSON bodies get a JSON content type)."""
    content_type = (
        "application/json" if body.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    )
    return {
        "Content-Type": content_type,
        "User-Agent": SLACK_USER_AGENT,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(body, secret, timestamp),
    }


def slash_command_fields(
    text: str,
    *,
    response_url: str,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    command: str = "/aom-exec",
    api_app_id: str = APP_ID,
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
) -> dict[str, str]:
    """Form fields of a slash command, in Slack's order (all values strings)."""
    fields = {"token": VERIFICATION_TOKEN, "team_id": team_id, "team_domain": team_domain}
    if enterprise_id is not None:
        fields["enterprise_id"] = enterprise_id
        fields["enterprise_name"] = enterprise_name or ""
    fields |= {
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "true" if enterprise_id else "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"1700000000.{team_id[1:]}.{_digest(text + channel_id)}",
    }
    return fields


def slash_command_body(text: str, *, response_url: str, **fields: Any) -> str:
    """Url-encoded slash command body (see :func:`slash_command_fields` for the keywords)."""
    return urlencode(slash_command_fields(text, response_url=response_url, **fields))


def block_actions_payload(
    action_id: str,
    value: str,
    *,
    message_ts: str,
    response_url: str,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    block_id: str = "actions",
    button_text: str = "Button",
    message: dict[str, Any] | None = None,
    is_ephemeral: bool = False,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    action_ts: str = "1700000100.000200",
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A button click's ``block_actions`` payload; ``message`` is the clicked message."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id or f"1700000100.{team_id[1:]}.{_digest(action_id + value)}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }
    if not is_ephemeral:
        payload["message"] = message or {
            "type": "message",
            "user": BOT_USER_ID,
            "ts": message_ts,
            "text": "",
            "blocks": [],
        }
    return payload


def block_actions_body(action_id: str, value: str, **kwargs: Any) -> str:
    """``payload=<url-encoded JSON>`` as Slack posts interactivity (keywords as the payload)."""
    return urlencode({"payload": json.dumps(block_actions_payload(action_id, value, **kwargs))})


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_id: str | None = None,
    event_time: int = 1_700_000_000,
) -> dict[str, Any]:
    """The Events API ``event_callback`` envelope around ``event``."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{_digest(json.dumps(event, sort_keys=True)).upper()}",
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def event_body(event: dict[str, Any], **kwargs: Any) -> str:
    """JSON body of an Events API delivery (keywords as :func:`event_callback`)."""
    return json.dumps(event_callback(event, **kwargs))


def app_home_opened(user: str = USER_ID, *, tab: str = "home") -> dict[str, Any]:
    """An ``app_home_opened`` event (the user opened the app's Home or Messages tab)."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": tab,
        "event_ts": "1700000000.000900",
    }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
