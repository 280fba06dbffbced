"""The Slack fakes answer as Slack does when driven by the real slack_sdk / slack_bolt clients."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack_api import Breakage, FakeSlack
from tests.fakes.slack_signing import (
    app_home_opened,
    block_actions_body,
    block_actions_payload,
    event_callback,
    sign_request,
    slash_command_body,
    slash_command_fields,
)
from tests.fakes.socket_mode import AckTimeoutError

SECRET = "test-signing-secret"


class FakeClock:
    """Manual monotonic clock for the rate-limit buckets."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(clock=clock) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


# ---- messages, threads, metadata -----------------------------------------------------------


async def test_post_thread_update_and_replies_round_trip_metadata(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A summary, a threaded reply and an edit come back through replies with their metadata."""
    meta = {"event_type": "aom_execution", "event_payload": {"execution_id": "exe-1"}}
    parent = await client.chat_postMessage(
        channel=slack.general, text="Running", blocks=[section("*Running*")], metadata=meta
    )
    reply = await client.chat_postMessage(
        channel=slack.general, thread_ts=parent["ts"], text="host-1 failed", reply_broadcast=True
    )
    updated = await client.chat_update(
        channel=slack.general,
        ts=parent["ts"],
        text="Done",
        blocks=[section("*Done*", "summary-2")],
        metadata={**meta, "event_payload": {"execution_id": "exe-1", "done": True}},
    )

    assert float(reply["ts"]) > float(parent["ts"])
    assert updated["ts"] == parent["ts"]
    assert updated["message"]["edited"]["user"] == "U0BOTUSER"
    replies = await client.conversations_replies(
        channel=slack.general, ts=parent["ts"], include_all_metadata=True
    )
    head, answer = replies["messages"]
    assert head["text"] == "Done"
    assert head["blocks"][0]["block_id"] == "summary-2"
    assert head["metadata"]["event_payload"] == {"execution_id": "exe-1", "done": True}
    assert head["reply_count"] == 1
    assert answer["thread_ts"] == parent["ts"]
    history = await client.conversations_history(channel=slack.general)
    assert [m["ts"] for m in history["messages"]] == [reply["ts"], parent["ts"]]
    assert all("metadata" not in m for m in history["messages"])  # only with the flag
    with_meta = await client.conversations_history(channel=slack.general, include_all_metadata=True)
    assert with_meta["messages"][1]["metadata"]["event_type"] == "aom_execution"


async def test_recorded_calls_merge_json_form_and_query_arguments(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """JSON bodies, form bodies with JSON-string blocks and query params all land in ``args``."""
    await client.chat_postMessage(channel=slack.general, text="json body")
    blocks = [section("form body")]
    await client.api_call(
        "chat.postMessage",
        data={"channel": slack.general, "text": "form", "blocks": json.dumps(blocks)},
    )
    await client.conversations_info(channel=slack.general)

    json_call, form_call, query_call = slack.calls
    assert json_call.args == {"channel": slack.general, "text": "json body"}
    assert form_call.args["blocks"] == blocks
    assert query_call.args == {"channel": slack.general}
    assert json_call.headers["Authorization"] == "Bearer xoxb-test"
    assert "xoxb-test" not in repr(json_call)
    assert [c.method for c in slack.calls_to("chat.postMessage")] == ["chat.postMessage"] * 2
    slack.reset()
    assert slack.calls == []


async def test_posting_to_a_user_id_lands_in_the_apps_dm(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """``channel=<user id>`` delivers into the app's DM with that user."""
    response = await client.chat_postMessage(channel=slack.alice, text="private note")
    assert response["channel"] == "D0ALICE"
    assert slack.messages("D0ALICE")[0]["text"] == "private note"


async def test_update_and_delete_errors(slack: FakeSlack, client: AsyncWebClient) -> None:
    """Other people's messages cannot be edited; unknown ts is message_not_found."""
    human_ts = slack.post_as_user(slack.general, slack.alice, "hello bot")
    error = await slack_error(client.chat_update(channel=slack.general, ts=human_ts, text="x"))
    assert error.response["error"] == "cant_update_message"
    error = await slack_error(client.chat_update(channel=slack.general, ts="1.000001", text="x"))
    assert error.response["error"] == "message_not_found"
    posted = await client.chat_postMessage(channel=slack.general, text="bye")
    slack.delete_message(slack.general, posted["ts"])
    error = await slack_error(client.chat_update(channel=slack.general, ts=posted["ts"], text="x"))
    assert error.response["error"] == "message_not_found"
    error = await slack_error(client.api_call("chat.update", json={"channel": slack.general}))
    assert error.response["error"] == "invalid_arguments"
    assert error.response["response_metadata"]["messages"] == ["[ERROR] missing required field: ts"]


# ---- channel access --------------------------------------------------------------------------


async def test_public_channel_without_bot_is_not_in_channel_until_joined(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Public: not_in_channel, conversations.join fixes it; the join shows in history."""
    ops = slack.add_channel("ops", bot_member=False)
    error = await slack_error(client.chat_postMessage(channel=ops.id, text="hi"))
    assert (error.response.status_code, error.response["error"]) == (200, "not_in_channel")
    error = await slack_error(client.conversations_history(channel=ops.id))
    assert error.response["error"] == "not_in_channel"

    joined = await client.conversations_join(channel=ops.id)
    posted = await client.chat_postMessage(channel=ops.id, text="hi")

    assert joined["channel"]["is_member"] is True
    assert posted["ok"]
    assert [m.get("subtype") for m in slack.messages(ops.id)] == ["channel_join", None]


async def test_private_and_unknown_channels_are_channel_not_found(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Private channels without the bot are invisible, even to join or info."""
    secret = slack.add_channel("secret", is_private=True, bot_member=False)
    for call in (
        client.chat_postMessage(channel=secret.id, text="hi"),
        client.conversations_join(channel=secret.id),
        client.conversations_info(channel=secret.id),
        client.chat_postMessage(channel="C0NOPE", text="hi"),
    ):
        assert (await slack_error(call)).response["error"] == "channel_not_found"


async def test_archived_channel_and_removed_bot(slack: FakeSlack, client: AsyncWebClient) -> None:
    """Archiving gives is_archived; removing the bot mid-follow breaks chat.update."""
    posted = await client.chat_postMessage(channel=slack.general, text="following")
    slack.remove_bot_from(slack.general)
    error = await slack_error(client.chat_update(channel=slack.general, ts=posted["ts"], text="x"))
    assert error.response["error"] == "not_in_channel"
    slack.add_bot_to(slack.general)
    slack.archive(slack.general)
    error = await slack_error(client.chat_postMessage(channel=slack.general, text="x"))
    assert error.response["error"] == "is_archived"


async def test_wrong_tokens(slack: FakeSlack) -> None:
    """Bad token: invalid_auth; no token: not_authed; app token on chat.*: wrong type."""
    cases = {
        "xoxb-wrong": "invalid_auth",
        None: "not_authed",
        "xapp-test": "not_allowed_token_type",
    }
    for token, code in cases.items():
        bad = AsyncWebClient(token=token, base_url=slack.base_url)
        error = await slack_error(bad.chat_postMessage(channel=slack.general, text="x"))
        assert error.response["error"] == code


# ---- Block Kit limits -----------------------------------------------------------------------


async def test_51_blocks_are_invalid_blocks_with_a_json_pointer(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Slack caps a message at 50 blocks and says where it broke."""
    blocks = [section(f"row {i}") for i in range(51)]
    error = await slack_error(
        client.chat_postMessage(channel=slack.general, text="t", blocks=blocks)
    )
    assert error.response["error"] == "invalid_blocks"
    assert error.response["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert slack.messages(slack.general) == []
    ok = await client.chat_postMessage(channel=slack.general, text="t", blocks=blocks[:50])
    assert ok["ok"]


def _with_confirm(*, title: str = "T", text: str = "t", confirm: str = "Do") -> dict[str, Any]:
    """An actions block whose one button carries a confirm dialog."""
    dialog = {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "mrkdwn", "text": text},
        "confirm": {"type": "plain_text", "text": confirm},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    button = {"type": "button", "text": {"type": "plain_text", "text": "b"}, "confirm": dialog}
    return {"type": "actions", "elements": [button]}


def _overflow_of(value: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": "o"}, "value": value}
    return {"type": "actions", "elements": [{"type": "overflow", "options": [option]}]}


@pytest.mark.parametrize(
    ("block", "pointer"),
    [
        (section("x" * 3001), "/blocks/0/text/text"),
        (
            {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
            "/blocks/0/text/text",
        ),
        ({"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}, "/blocks/0/text/type"),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
            "/blocks/0/fields",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}},
                ],
            },
            "/blocks/0/elements/0/text/text",
        ),
        (section("ok", "b" * 256), "/blocks/0/block_id"),
        (_with_confirm(text="t" * 301), "/blocks/0/elements/0/confirm/text/text"),
        (_with_confirm(title="t" * 101), "/blocks/0/elements/0/confirm/title/text"),
        (_with_confirm(confirm="c" * 31), "/blocks/0/elements/0/confirm/confirm/text"),
        (_overflow_of("v" * 151), "/blocks/0/elements/0/options/0/value"),
    ],
)
async def test_per_block_limits(
    slack: FakeSlack, client: AsyncWebClient, block: dict[str, Any], pointer: str
) -> None:
    """Section 3000, header 150 plain_text, 10 fields, button 75, block_id 255; a confirm
    dialog's title 100, text 300, buttons 30; an overflow option's value 150."""
    error = await slack_error(
        client.chat_postMessage(channel=slack.general, text="t", blocks=[block])
    )
    assert error.response["error"] == "invalid_blocks"
    assert error.response["errors"][0].endswith(f"[json-pointer:{pointer}]")


async def test_duplicate_block_ids_are_rejected(slack: FakeSlack, client: AsyncWebClient) -> None:
    """block_id must be unique within a message."""
    blocks = [section("a", "same"), section("b", "same")]
    error = await slack_error(
        client.chat_postMessage(channel=slack.general, text="t", blocks=blocks)
    )
    assert error.response["errors"] == ["duplicate block_id [json-pointer:/blocks/1/block_id]"]


async def test_total_block_text_over_12k_is_msg_blocks_too_long(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Every block within limits, but ~14.5k characters in total: msg_blocks_too_long."""
    blocks = [section("x" * 2900) for _ in range(5)]
    error = await slack_error(
        client.chat_postMessage(channel=slack.general, text="t", blocks=blocks)
    )
    assert error.response["error"] == "msg_blocks_too_long"
    assert (await client.chat_postMessage(channel=slack.general, text="t", blocks=blocks[:4]))["ok"]


async def test_no_text_and_no_blocks_is_no_text(slack: FakeSlack, client: AsyncWebClient) -> None:
    """A message needs text, blocks or attachments."""
    error = await slack_error(client.api_call("chat.postMessage", json={"channel": slack.general}))
    assert error.response["error"] == "no_text"


# ---- rate limits and scripted failures ------------------------------------------------------


async def test_429_is_retried_by_the_sdk_rate_limit_handler(slack: FakeSlack) -> None:
    """Retry-After is honoured by AsyncRateLimitErrorRetryHandler; the fake counts the 429."""
    client = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.rate_limit_next("chat.update", retry_after=0)
    posted = await client.chat_postMessage(channel=slack.general, text="v1")

    updated = await client.chat_update(channel=slack.general, ts=posted["ts"], text="v2")

    assert updated["ok"]
    assert slack.rate_limited_count == 1
    first, second = slack.calls_to("chat.update")
    assert (first.status, first.response["error"]) == (429, "ratelimited")
    assert second.ok
    assert slack.message(slack.general, posted["ts"])["text"] == "v2"


async def test_429_without_retry_handler_surfaces_retry_after(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Without a handler the SDK raises with status 429 and the Retry-After header."""
    slack.rate_limit_next("chat.postMessage", retry_after=7)
    error = await slack_error(client.chat_postMessage(channel=slack.general, text="x"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"


async def test_per_channel_bucket_refills_on_the_injected_clock(
    slack: FakeSlack, client: AsyncWebClient, clock: FakeClock
) -> None:
    """chat.postMessage at 1/s per channel: a burst is throttled, other channels are not."""
    slack.set_channel_rate_limit(per_minute=60, burst=1)
    other = slack.add_channel("other")
    await client.chat_postMessage(channel=slack.general, text="1")
    error = await slack_error(client.chat_postMessage(channel=slack.general, text="2"))
    assert error.response.headers["Retry-After"] == "1"
    assert (await client.chat_postMessage(channel=other.id, text="x"))["ok"]

    clock.now += 1.0

    assert (await client.chat_postMessage(channel=slack.general, text="2"))["ok"]
    assert slack.rate_limited_count == 1


async def test_method_bucket_models_a_tier(
    slack: FakeSlack, client: AsyncWebClient, clock: FakeClock
) -> None:
    """A Tier 3 style limit (50/min, burst 2) on chat.update across all channels."""
    slack.set_rate_limit("chat.update", per_minute=50, burst=2)
    ts = (await client.chat_postMessage(channel=slack.general, text="v"))["ts"]
    for _ in range(2):
        await client.chat_update(channel=slack.general, ts=ts, text="v")
    error = await slack_error(client.chat_update(channel=slack.general, ts=ts, text="v"))
    assert error.response.headers["Retry-After"] == "2"  # 1.2 s per token, rounded up
    clock.now += 1.2
    assert (await client.chat_update(channel=slack.general, ts=ts, text="v"))["ok"]


async def test_scripted_errors_500s_and_malformed_bodies(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """fail_next answers ok:false once; break_method answers 500 / non-JSON until healed."""
    slack.fail_next("users.info", "fatal_error")
    assert (await slack_error(client.users_info(user=slack.alice))).response[
        "error"
    ] == "fatal_error"
    assert (await client.users_info(user=slack.alice))["user"]["name"] == "alice"

    slack.break_method("auth.test")
    for _ in range(2):
        assert (await slack_error(client.auth_test())).response.status_code == 500
    slack.heal("auth.test")
    assert (await client.auth_test())["ok"]
    slack.break_method("auth.test", Breakage.MALFORMED, times=1)
    malformed = await slack_error(client.auth_test())
    assert (malformed.response.status_code, malformed.response.data) == (200, {})
    assert (await client.auth_test())["user_id"] == "U0BOTUSER"


async def test_wait_for_wakes_on_matching_calls_and_times_out_clearly(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """wait_for returns the matching calls, and names what it saw when it gives up."""
    await client.chat_postMessage(channel=slack.general, text="a")
    await client.chat_postMessage(channel=slack.general, text="b")
    calls = await slack.wait_for(lambda c: c.method == "chat.postMessage" and c.ok, count=2)
    assert [c.args["text"] for c in calls] == ["a", "b"]
    with pytest.raises(TimeoutError, match=r"chat\.postMessage"):
        await slack.wait_for("chat.update", timeout=0.01)


async def test_a_bug_inside_the_fake_fails_the_test_instead_of_looking_like_slack() -> None:
    """Handler exceptions answer 500 and make ``async with FakeSlack()`` raise on exit."""

    def broken(args: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("oops")

    fake = await FakeSlack().__aenter__()
    fake.methods.handlers["chat.postMessage"] = broken
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)
    error = await slack_error(client.chat_postMessage(channel=fake.general, text="x"))
    assert error.response.status_code == 500
    with pytest.raises(AssertionError, match="oops"):
        await fake.__aexit__(None, None, None)


# ---- other methods ------------------------------------------------------------------------------


async def test_info_permalink_ephemeral_members_and_home(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """The read-side methods the bot uses answer with Slack's shapes."""
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == (
        "U0BOTUSER",
        "B0BOTID",
        "T0FAKETEAM",
    )
    info = await client.conversations_info(channel=slack.general)
    assert info["channel"]["is_private"] is False
    assert info["channel"]["is_member"] is True
    members = await client.conversations_members(channel=slack.general)
    assert members["members"] == ["U0ALICE", "U0BOTUSER"]
    mine = await client.users_conversations(types="public_channel,private_channel")
    assert [c["id"] for c in mine["channels"]] == [slack.general]

    parent = await client.chat_postMessage(channel=slack.general, text="p")
    child = await client.chat_postMessage(channel=slack.general, text="c", thread_ts=parent["ts"])
    link = await client.chat_getPermalink(channel=slack.general, message_ts=child["ts"])
    assert link["permalink"] == (
        f"https://fake-team.slack.com/archives/C0GENERAL/p{child['ts'].replace('.', '')}"
        f"?thread_ts={parent['ts']}&cid=C0GENERAL"
    )
    eph = await client.chat_postEphemeral(channel=slack.general, user=slack.alice, text="psst")
    assert slack.ephemerals(slack.general)[0]["ts"] == eph["message_ts"]
    assert all(m["text"] != "psst" for m in slack.messages(slack.general))

    view = {"type": "home", "blocks": [section("Followed executions")]}
    published = await client.views_publish(user_id=slack.alice, view=view)
    assert slack.home_views[slack.alice]["blocks"] == view["blocks"]
    assert published["view"]["id"].startswith("V")
    too_big = {"type": "home", "blocks": [section("x")] * 101}
    error = await slack_error(client.views_publish(user_id=slack.alice, view=too_big))
    assert error.response["error"] == "invalid_arguments"


async def test_history_paginates_with_cursors(slack: FakeSlack, client: AsyncWebClient) -> None:
    """limit + next_cursor walk the history newest first without gaps."""
    for i in range(5):
        await client.chat_postMessage(channel=slack.general, text=str(i))
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.conversations_history(channel=slack.general, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == ["4", "3", "2", "1", "0"]


async def test_files_upload_v2_lands_in_the_thread(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """getUploadURLExternal -> upload POST -> completeUploadExternal shares into the thread."""
    parent = await client.chat_postMessage(channel=slack.general, text="failed hosts")

    result = await client.files_upload_v2(
        channel=slack.general,
        thread_ts=parent["ts"],
        content="host-1: exit 1\n",
        filename="exe-1.log",
        title="Logs of exe-1",
        initial_comment="Full log",
    )

    file_id = result["file"]["id"]
    assert slack.files[file_id].content == b"host-1: exit 1\n"
    assert result["file"]["title"] == "Logs of exe-1"
    _, reply = slack.thread(slack.general, parent["ts"])
    assert reply["text"] == "Full log"
    assert reply["files"][0]["id"] == file_id
    assert [c.method for c in slack.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.upload_bytes",
        "files.completeUploadExternal",
    ]


async def test_files_cannot_be_shared_where_the_bot_is_not(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Sharing into a public channel without the bot fails like posting does."""
    ops = slack.add_channel("ops", bot_member=False)
    error = await slack_error(client.files_upload_v2(channel=ops.id, content="x", filename="a"))
    assert error.response["error"] == "not_in_channel"


# ---- response_url ---------------------------------------------------------------------------


async def test_response_url_ephemeral_then_replace_then_in_channel(slack: FakeSlack) -> None:
    """Works without membership; replace_original edits the URL's first message; 5 uses max."""
    secret = slack.add_channel("secret", is_private=True, bot_member=False, members=[slack.alice])
    url = slack.response_url(secret.id, slack.alice)
    webhook = AsyncWebhookClient(url)

    first = await webhook.send(text="Looking up exe-1…")
    await webhook.send(text="exe-1 failed on 2 hosts", replace_original=True)
    shared = await webhook.send(text="Summary for everyone", response_type="in_channel")

    assert (first.status_code, first.body) == (200, "ok")
    assert shared.status_code == 200
    hook = slack.hook(url)
    assert [m["text"] for m in hook.ephemerals] == ["exe-1 failed on 2 hosts"]
    assert [m["text"] for m in slack.messages(secret.id)] == ["Summary for everyone"]
    await webhook.send(text="4")
    await webhook.send(text="5")
    assert (await webhook.send(text="6")).status_code == 404
    assert len(await slack.wait_for("response_url", count=6)) == 6


async def test_response_url_of_a_button_replaces_and_deletes_the_clicked_message(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A block_actions response_url edits the message the button sat on."""
    posted = await client.chat_postMessage(channel=slack.general, text="exe-1 running")
    webhook = AsyncWebhookClient(
        slack.response_url(slack.general, slack.alice, original_ts=posted["ts"])
    )

    await webhook.send(text="exe-1 stopped", replace_original=True)
    assert slack.message(slack.general, posted["ts"])["text"] == "exe-1 stopped"
    bad = await webhook.send(text="t", blocks=[section("x" * 3001)])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    await webhook.send(delete_original=True)
    assert slack.messages(slack.general) == []


# ---- signing helpers + Bolt -------------------------------------------------------------------


def test_signed_headers_pass_slack_sdk_verification() -> None:
    """sign_request produces what SignatureVerifier accepts, and nothing else does."""
    body = slash_command_body("show payload", response_url="http://127.0.0.1:1/webhook/H1")
    now = int(time.time())
    headers = sign_request(body, SECRET, now)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + "x", headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = dict(parse_qsl(body, keep_blank_values=True))
    assert fields["text"] == "show payload"
    assert fields["command"] == "/aom-exec"
    assert list(fields)[:4] == ["token", "team_id", "team_domain", "channel_id"]


def signed(body: str, secret: str, timestamp: int) -> AsyncBoltRequest:
    """A Bolt request carrying ``body`` signed with ``secret``, as Slack would send it."""
    headers: dict[str, str | Sequence[str]] = {**sign_request(body, secret, timestamp)}
    return AsyncBoltRequest(body=body, headers=headers)


def _bolt_app(slack: FakeSlack, client: AsyncWebClient) -> AsyncApp:
    return AsyncApp(client=client, signing_secret=SECRET)


async def test_bolt_http_mode_accepts_signed_slash_and_button_bodies(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Bolt verifies and routes the helper bodies; respond() reaches the fake response_url."""
    app = _bolt_app(slack, client)
    clicked: list[dict[str, Any]] = []

    async def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack(text=f"got {command['text']}")
        await respond(text="working", replace_original=False)

    async def on_click(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        clicked.append(body)
        await respond(text="retrying", replace_original=True)

    app.command("/aom-exec")(on_command)
    app.action("exec_retry")(on_click)
    now = int(time.time())

    url = slack.response_url(slack.general, slack.alice)
    body = slash_command_body("exe-1", response_url=url)
    response = await app.async_dispatch(signed(body, SECRET, now))
    assert response.status == 200
    assert response.body == "got exe-1"  # Bolt answers a text-only ack as plain text
    await slack.wait_for("response_url")

    posted = await client.chat_postMessage(channel=slack.general, text="exe-1 failed")
    click_url = slack.response_url(slack.general, slack.alice, original_ts=posted["ts"])
    body = block_actions_body(
        "exec_retry", "exe-1", message_ts=posted["ts"], response_url=click_url
    )
    response = await app.async_dispatch(signed(body, SECRET, now))
    assert response.status == 200
    await slack.wait_for(
        lambda c: c.method == "response_url" and bool(c.args.get("replace_original"))
    )
    assert slack.message(slack.general, posted["ts"])["text"] == "retrying"
    assert clicked[0]["actions"][0]["value"] == "exe-1"
    assert (await app.async_dispatch(signed(body, "wrong-secret", now))).status == 401


# ---- Socket Mode ----------------------------------------------------------------------------------


@pytest.fixture
async def socket_app(
    slack: FakeSlack, client: AsyncWebClient
) -> AsyncIterator[tuple[AsyncApp, Callable[[], AsyncSocketModeHandler]]]:
    app = _bolt_app(slack, client)
    handlers: list[AsyncSocketModeHandler] = []

    def connect() -> AsyncSocketModeHandler:
        handler = AsyncSocketModeHandler(app, app_token=slack.app_token)
        handlers.append(handler)
        return handler

    yield app, connect
    for handler in handlers:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def test_socket_mode_round_trip_with_bolt(
    slack: FakeSlack, socket_app: tuple[AsyncApp, Callable[[], AsyncSocketModeHandler]]
) -> None:
    """hello -> slash command ack -> chat.postMessage; then disconnect, reconnect, click, event."""
    app, connect = socket_app

    async def on_command(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack(text="On it")
        await client.chat_postMessage(channel=command["channel_id"], text=f"exe {command['text']}")

    async def on_click(ack: Any, action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(channel=slack.general, text=f"retry {action['value']}")

    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(
            user_id=event["user"], view={"type": "home", "blocks": [section("Home")]}
        )

    app.command("/aom-exec")(on_command)
    app.action("exec_retry")(on_click)
    app.event("app_home_opened")(on_home)
    handler = connect()
    await handler.connect_async()  # type: ignore[no-untyped-call]
    await slack.socket_mode.wait_connected()

    url = slack.response_url(slack.general, slack.alice)
    ack = await slack.socket_mode.deliver_slash_command(
        slash_command_fields("exe-1", response_url=url)
    )
    assert ack == {"text": "On it"}
    (post,) = await slack.wait_for("chat.postMessage")
    assert post.ok
    assert slack.messages(slack.general)[-1]["text"] == "exe exe-1"

    await slack.socket_mode.disconnect()
    await slack.socket_mode.wait_connected(count=2)
    assert [c.token for c in slack.calls_to("apps.connections.open")] == ["xapp-test"] * 2

    payload = block_actions_payload(
        "exec_retry", "exe-1", message_ts=post.response["ts"], response_url=url
    )
    assert await slack.socket_mode.deliver_interactive(payload) == {}
    await slack.wait_for("chat.postMessage", count=2)
    assert await slack.socket_mode.deliver_event(event_callback(app_home_opened(slack.alice))) == {}
    await slack.wait_for("views.publish")
    assert slack.home_views[slack.alice]["blocks"][0]["text"]["text"] == "Home"


async def test_unhandled_envelope_is_never_acked(
    slack: FakeSlack, socket_app: tuple[AsyncApp, Callable[[], AsyncSocketModeHandler]]
) -> None:
    """Bolt sends no ack without a listener; the fake reports Slack's ack timeout."""
    _, connect = socket_app
    await connect().connect_async()  # type: ignore[no-untyped-call]
    await slack.socket_mode.wait_connected()
    url = slack.response_url(slack.general, slack.alice)
    with pytest.raises(AckTimeoutError):
        await slack.socket_mode.deliver_slash_command(
            slash_command_fields("x", response_url=url), timeout=0.5
        )


async def test_apps_connections_open_needs_the_app_token(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A bot token cannot open Socket Mode connections."""
    error = await slack_error(client.apps_connections_open(app_token=slack.bot_token))
    assert error.response["error"] == "not_allowed_token_type"
    opened = await client.apps_connections_open(app_token=slack.app_token)
    assert opened["url"].startswith(f"ws://127.0.0.1:{slack.port}/link?ticket=")
