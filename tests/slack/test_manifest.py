"""The app manifest matches what the code needs: the command, its events and scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aom_bot.slack.commands import COMMAND
from aom_bot.slack.help import USAGE_HINT

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"


def _manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_command_and_usage_hint_match_the_code() -> None:
    """The manifest declares /aom-exec with the usage hint the help text uses."""
    (command,) = _manifest()["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["usage_hint"] == USAGE_HINT
    assert len(command["usage_hint"]) <= 1000
    assert command["description"]


def test_socket_mode_interactivity_and_home() -> None:
    """Socket Mode, interactivity and the Home tab (with app_home_opened) are enabled."""
    manifest = _manifest()
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["token_rotation_enabled"] is False


def test_scopes_are_exactly_what_the_features_use() -> None:
    """No scope beyond what the bot calls, and each one is justified by a comment."""
    scopes = _manifest()["oauth_config"]["scopes"]["bot"]
    assert scopes == [
        "commands",
        "chat:write",
        "channels:join",
        "files:write",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
        "usergroups:read",
    ]
    lines = MANIFEST.read_text(encoding="utf-8").splitlines()
    for scope in scopes:
        index = lines.index(f"      - {scope}")
        assert lines[index - 1].strip().startswith("#"), f"{scope} has no justification"


def test_names_fit_slack_limits() -> None:
    """Display name, description and long description are within the manifest schema limits."""
    info = _manifest()["display_information"]
    assert len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
