"""Action ids, button references and console links: contracts other modules rely on."""

from __future__ import annotations

import pytest

from aom_bot.errors import ConfigError
from aom_bot.render import actions
from aom_bot.render.links import ConsoleTemplateError, console_link, validate_console_template


def test_action_ids_are_the_documented_strings() -> None:
    """Posted messages keep old action ids: these values must never change."""
    assert actions.ACTION_REFRESH == "aom_exec.refresh"
    assert actions.ACTION_FOLLOW == "aom_exec.follow"
    assert actions.ACTION_UNFOLLOW == "aom_exec.unfollow"
    assert actions.ACTION_REPORT == "aom_exec.report"
    assert actions.ACTION_CONSOLE == "aom_exec.console"
    assert actions.ACTION_SHOW == "aom_exec.show"
    assert actions.ACTION_STOP_FOLLOW == "aom_exec.stop_follow"
    assert actions.ACTION_UNSUBSCRIBE == "aom_exec.unsubscribe"


def test_ref_round_trips_and_is_compact() -> None:
    """encode_ref/decode_ref are inverse, and the value is compact JSON."""
    value = actions.encode_ref("wf-1", "e-2")
    assert value == '{"w":"wf-1","e":"e-2"}'
    assert actions.decode_ref(value) == ("wf-1", "e-2")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not json",
        "[]",
        "null",
        '{"w": 1, "e": "x"}',
        '{"w": "x"}',
        '{"w": "", "e": "x"}',
        "[" * 100_000,
    ],
)
def test_decode_ref_rejects_garbage(garbage: str) -> None:
    """Anything but a well-formed reference is a ValueError, never a crash."""
    with pytest.raises(ValueError, match=r"reference|empty"):
        actions.decode_ref(garbage)


def test_encode_ref_refuses_values_slack_would_reject() -> None:
    """A value over 2,000 characters cannot be put on a button."""
    with pytest.raises(ValueError, match="too long"):
        actions.encode_ref("w" * 1000, "e" * 1000)


def test_console_link_fills_and_quotes_placeholders() -> None:
    """Ids are URL-quoted so a hostile id cannot change the link's path or query."""
    url = console_link(
        "https://console.example/aom/{project_id}/{workflow_id}/executions/{execution_id}"
        "?region={region}",
        region="cn-north-4",
        project_id="p1",
        workflow_id="w/1?x",
        execution_id="e&1",
    )
    assert url == "https://console.example/aom/p1/w%2F1%3Fx/executions/e%261?region=cn-north-4"


def test_console_link_is_none_without_a_template() -> None:
    """No template configured: no button."""
    assert console_link("", region="r", project_id="p", workflow_id="w", execution_id="e") is None
    assert console_link(None, region="r", project_id="p", workflow_id="w", execution_id="e") is None


@pytest.mark.parametrize(
    "template",
    [
        "https://x/{workflow}",
        "https://x/{}",
        "https://x/{region!r}",
        "https://x/{region:>9}",
        "https://x/{unclosed",
        "ftp://x/{region}",
        "javascript:alert(1)",
    ],
)
def test_bad_templates_fail_clearly_at_config_time(template: str) -> None:
    """Unknown placeholders and non-web URLs are a ConfigError that is also a ValueError."""
    with pytest.raises(ConsoleTemplateError) as info:
        validate_console_template(template)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
