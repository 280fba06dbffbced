"""``aom-bot audit --json`` (a real process reading the bot's SQLite file) lists every
attempted action and every refusal the bot saw, newest first, with the documented fields."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from aom_bot.audit_log import AUDIT_JSON_FIELDS
from aom_bot.render.actions import (
    ACTION_APPROVE,
    ACTION_CANCEL,
    ACTION_RETRY,
    ACTION_RUN,
    ACTION_TERMINATE,
)
from aom_bot.slack.approvals import APPROVAL_TTL, sweep
from tests.fakes.slack_api import RecordedCall
from tests.slack.harness import Harness
from tests.slack.operate_helpers import (
    ALICE,
    BOB,
    MALLORY,
    acting_bot,
    elements,
    name_of,
    press,
    private_answer,
    show,
    value_of,
    wait_card_update,
)

pytestmark = pytest.mark.timeout(90)

#: the documented fields of one ``aom-bot audit --json`` entry
FIELDS = [
    "at",
    "user_id",
    "user_name",
    "channel_id",
    "profile",
    "action",
    "workflow_id",
    "execution_id",
    "node_id",
    "outcome",
    "aom_request_id",
    "detail",
    "result_execution_id",
]


async def _cli_audit(database: Path, *args: str) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AOM_", "SLACK_"))}
    env["AOM_BOT_DATABASE_URL"] = f"sqlite:///{database}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aom_bot", "audit", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def _is_request(call: RecordedCall) -> bool:
    return call.method == "chat.postMessage" and "needs a second person" in str(call.args)


async def _request_run(bot: Harness, ts: str) -> dict[str, Any]:
    """alice presses Run again (two-person): the request message in the card's thread."""
    before = len([c for c in bot.slack.calls if _is_request(c)])
    await press(bot, ts, ACTION_RUN)
    calls = await bot.slack.wait_for(_is_request, count=before + 1)
    return bot.slack.message(bot.slack.general, str(calls[-1].response["ts"]))


async def _decide(bot: Harness, request: dict[str, Any], action_id: str, user: str) -> None:
    value = value_of(elements(request)[action_id])
    await bot.click(
        action_id, value, message_ts=request["ts"], user_id=user, user_name=name_of(user)
    )


async def _act(bot: Harness) -> dict[str, str]:
    """Everything that is audited, once each; the IDs it was about."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    await press(bot, ts, ACTION_TERMINATE, user=MALLORY)  # denied
    await private_answer(bot)
    bot.faults.path_contains = "/terminate"
    bot.faults.upcoming.append(400)
    await press(bot, ts, ACTION_TERMINATE)  # failed
    await wait_card_update(bot, ts)
    bot.faults.upcoming.append(503)
    await press(bot, ts, ACTION_TERMINATE)  # unknown
    await wait_card_update(bot, ts, count=2)
    bot.faults.clear()

    failed_wf = bot.workflow("rotate-logs")
    failed_ex = bot.failed_yesterday(failed_wf)
    failed_ts = await show(bot, failed_wf, failed_ex)
    retry = elements(bot.slack.message(bot.slack.general, failed_ts))[ACTION_RETRY]
    node = json.loads(value_of(retry))["n"]
    await press(bot, failed_ts, ACTION_RETRY)  # done, with its node
    await wait_card_update(bot, failed_ts)

    run_wf = bot.workflow("db-schema-migration")
    run_ts = await show(bot, run_wf, bot.world.execution_ids(run_wf)[1])  # yesterday's
    request = await _request_run(bot, run_ts)  # requested
    await _decide(bot, request, ACTION_CANCEL, ALICE)  # cancelled
    await bot.slack.wait_for(lambda c: c.method == "chat.update" and c.args["ts"] == request["ts"])
    request = await _request_run(bot, run_ts)  # requested
    bot.clock.advance(APPROVAL_TTL.total_seconds())
    await sweep(bot.deps)  # expired
    request = await _request_run(bot, run_ts)  # requested
    await _decide(bot, request, ACTION_APPROVE, ALICE)  # denied: own request
    await private_answer(bot)
    await _decide(bot, request, ACTION_APPROVE, BOB)  # done: a new run
    await bot.follows.wait("follow")
    return {"wf": wf, "ex": ex, "failed_ex": failed_ex, "node": node, "run_wf": run_wf}


async def test_audit_json_lists_every_action_and_refusal(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    async with acting_bot(
        two_person=frozenset({"run"}), database_url=f"sqlite:///{database}"
    ) as bot:
        ids = await _act(bot)
        new_run = bot.newest(ids["run_wf"])
        stored = await bot.store.audit_entries()
    rows = await _cli_audit(database, "--json")
    assert tuple(FIELDS) == AUDIT_JSON_FIELDS
    assert all(list(row) == FIELDS for row in rows)
    assert len(rows) == len(stored)
    seen = [(r["user_id"], r["action"], r["outcome"]) for r in reversed(rows)]
    assert seen == [
        (MALLORY, "terminate", "denied"),
        (ALICE, "terminate", "failed"),
        (ALICE, "terminate", "unknown"),
        (ALICE, "retry", "done"),
        (ALICE, "run", "requested"),
        (ALICE, "run", "cancelled"),
        (ALICE, "run", "requested"),
        (ALICE, "run", "expired"),
        (ALICE, "run", "requested"),
        (ALICE, "run", "denied"),
        (BOB, "run", "done"),
    ]
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    by = {(r["action"], r["outcome"]): r for r in rows}
    denied = by[("terminate", "denied")]
    assert (denied["user_name"], denied["channel_id"], denied["profile"]) == (
        "mallory", bot.slack.general, "default",
    )  # fmt: skip
    assert (denied["workflow_id"], denied["execution_id"]) == (ids["wf"], ids["ex"])
    assert denied["aom_request_id"] is None
    assert "terminate" in denied["detail"]
    assert by[("terminate", "failed")]["aom_request_id"]
    assert by[("terminate", "unknown")]["aom_request_id"]
    retry = by[("retry", "done")]
    assert (retry["execution_id"], retry["node_id"]) == (ids["failed_ex"], ids["node"])
    assert retry["aom_request_id"]
    run = by[("run", "done")]
    assert (run["user_id"], run["result_execution_id"]) == (BOB, new_run)
    assert run["at"].endswith("Z")
    assert "unused-in-process" not in json.dumps(rows)  # the profile's credential
