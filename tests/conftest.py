"""Suite-wide fixtures: every test starts from an environment with no bot or Slack settings."""

from __future__ import annotations

import os

import pytest

_PREFIXES = ("SLACK_", "AOM_", "CLOUD_SDK_", "HUAWEICLOUD_SDK_")
_KEEP = {"AOM_BOT_TEST_POSTGRES_DSN", "AOM_BOT_REQUIRE_POSTGRES", "AOM_BOT_UPDATE_GOLDEN"}
#: a developer's proxy must not route the tests' 127.0.0.1 traffic (tests set their own)
_PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt and pydantic-settings read the environment; tests must see only what they set."""
    for name in list(os.environ):
        if (name.startswith(_PREFIXES) and name not in _KEEP) or name.lower() in _PROXIES:
            monkeypatch.delenv(name, raising=False)
