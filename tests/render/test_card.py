"""The one card builder: every caller's card, with its console button, from one place."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aom_bot.aom.models import ExecutionDetail
from aom_bot.errors import ConsoleTemplateError
from aom_bot.render.card import execution_card
from aom_bot.render.links import ConsoleLinks
from tests.render.factories import load_fixture

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
TEMPLATE = (
    "https://console.example/aom2/automation/{workflow_id}/executions/{execution_id}"
    "?region={region}"
)
NOW = datetime(2024, 3, 15, 8, 12, tzinfo=UTC)


def _console_buttons(card: dict[str, Any]) -> list[str]:
    return [
        element["url"]
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "url" in element
    ]


def test_the_builder_renders_the_reviewed_card() -> None:
    """Through ConsoleLinks, the F3 card is the golden one (same link, same everything)."""
    detail = load_fixture("f3_failed.json")
    links = ConsoleLinks(TEMPLATE, region="cn-north-4", project_id="p")
    card = execution_card(detail, now=NOW, console=links, workflow_name="deploy-nginx")
    golden = (GOLDEN / "message_f3_failed.json").read_text(encoding="utf-8")
    assert json.dumps(card.to_dict(), ensure_ascii=False, indent=2) + "\n" == golden


def test_the_link_fills_the_project_and_quotes_the_ids() -> None:
    detail = ExecutionDetail.model_validate(
        {"execution_id": "e 1", "workflow_id": "w/1", "status": "fail"}
    )
    links = ConsoleLinks(
        "https://c.example/{project_id}/{workflow_id}/{execution_id}?r={region}",
        region="cn-north-4",
        project_id="proj",
    )
    card = execution_card(detail, now=NOW, console=links).to_dict()
    assert _console_buttons(card) == ["https://c.example/proj/w%2F1/e%201?r=cn-north-4"]


def test_no_button_without_a_template_or_without_the_workflow() -> None:
    """No template, no links, or an execution without its workflow ID: no Console button."""
    with_ids = ExecutionDetail.model_validate(
        {"execution_id": "e1", "workflow_id": "w1", "status": "success"}
    )
    without_workflow = ExecutionDetail.model_validate({"execution_id": "e1", "status": "success"})
    links = ConsoleLinks("https://c.example/{workflow_id}/{execution_id}")
    assert _console_buttons(execution_card(with_ids, now=NOW, console=None).to_dict()) == []
    assert (
        _console_buttons(execution_card(with_ids, now=NOW, console=ConsoleLinks()).to_dict()) == []
    )
    assert (
        _console_buttons(execution_card(without_workflow, now=NOW, console=links).to_dict()) == []
    )


def test_a_listing_gives_the_workflow_id_its_executions_lack() -> None:
    """Subscription posts: AOM's execution list carries no workflow ID; the subscription does."""
    listed = ExecutionDetail.model_validate({"execution_id": "e1", "status": "fail"})
    links = ConsoleLinks("https://c.example/{workflow_id}/{execution_id}")
    card = execution_card(listed, now=NOW, console=links, workflow_id="w9").to_dict()
    assert _console_buttons(card) == ["https://c.example/w9/e1"]


@pytest.mark.parametrize(
    "template", ["ftp://c.example/{execution_id}", "https://c.example/{nope}", "https://c/{"]
)
def test_a_broken_template_fails_where_it_is_configured(template: str) -> None:
    with pytest.raises(ConsoleTemplateError):
        ConsoleLinks(template)
