"""ID validation: hostile IDs never reach the network, and valid ones are sent as they are."""

from __future__ import annotations

import string

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aom_bot.aom.client import AomClient, NodeAction, build_http_client
from aom_bot.aom.ids import ID_PATTERN, validate_id
from aom_bot.errors import InvalidIdError

from .helpers import BASE_URL, EX, PROJECT, WF, FakeAom, make_client

HOSTILE = [
    "../../v3/auth/tokens",
    "..",
    ".",
    "a/b",
    "a?b",
    "a#b",
    "a%2Fb",
    "%2e%2e",
    "a b",
    " a",
    "a\n",
    "a\r\nX-Injected: 1",
    "a\x00",
    "a\x7f",
    "",
    "-a",
    "_a",
    "a" * 129,
    "é",
    "a\u200b",
    "ａ",
]


def calls(aom: AomClient, bad: str) -> list[object]:
    return [
        aom.get_execution(bad, EX),
        aom.get_execution(WF, bad),
        aom.list_executions(bad),
        aom.list_executions(WF, enterprise_project_id=bad),
        aom.terminate_execution(bad, EX),
        aom.terminate_execution(WF, bad),
        aom.operate_node(bad, EX, "n", NodeAction.SKIP),
        aom.operate_node(WF, bad, "n", NodeAction.SKIP),
        aom.operate_node(WF, EX, bad, NodeAction.SKIP),
        aom.execute_workflow(bad),
    ]


@pytest.mark.parametrize("bad", HOSTILE)
async def test_hostile_ids_send_nothing(bad: str) -> None:
    """Every method refuses a hostile ID in any position before a single request is made."""
    fake = FakeAom()
    async with make_client(fake) as aom:
        for call in calls(aom, bad):
            with pytest.raises(InvalidIdError):
                await call  # type: ignore[misc]
    assert fake.count == 0


async def test_non_string_ids_are_refused() -> None:
    """An ID of the wrong type (None, int) is an InvalidIdError too, not a TypeError."""
    fake = FakeAom()
    async with make_client(fake) as aom:
        for bad in (None, 5, b"wf"):
            with pytest.raises(InvalidIdError):
                await aom.get_execution(bad, EX)  # type: ignore[arg-type]
    assert fake.count == 0


@pytest.mark.parametrize("bad", ["../x", "", "p/q"])
def test_bad_project_id_fails_at_construction(bad: str) -> None:
    """The project ID is checked when the client is built, since it is in every path."""
    http = build_http_client(base_url=BASE_URL, auth=None, transport=httpx.MockTransport(FakeAom()))
    with pytest.raises(InvalidIdError, match="project ID"):
        AomClient(http, project_id=bad)


def test_error_message_is_short_and_actionable() -> None:
    """The message names the kind of ID, shows a clipped value and says what IDs look like."""
    with pytest.raises(InvalidIdError) as caught:
        validate_id("execution ID", "x/" * 200)
    assert str(caught.value).startswith("execution ID ")
    assert len(str(caught.value)) < 120
    assert "copy them from the AOM console" in caught.value.user_message()


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=140))
def test_validation_matches_the_pattern(value: str) -> None:
    """Arbitrary text is accepted exactly when it matches the documented pattern."""
    if ID_PATTERN.fullmatch(value):
        assert validate_id("x", value) == value
    else:
        with pytest.raises(InvalidIdError):
            validate_id("x", value)


@settings(max_examples=100, deadline=None)
@given(value=st.from_regex(ID_PATTERN, fullmatch=True).filter(lambda v: "\n" not in v))
async def test_valid_ids_are_sent_verbatim(value: str) -> None:
    """A valid ID appears unchanged as its own path segment (it needs no escaping)."""
    fake = FakeAom(httpx.Response(200, content=b"{}"))
    async with make_client(fake) as aom:
        await aom.get_execution(value, value)
    assert fake.last.url.raw_path.split(b"/")[-4:] == [
        value.encode(),
        b"executions",
        value.encode(),
        b"status",
    ]


def test_pattern_alphabet() -> None:
    """The pattern allows only letters, digits, '.', '_' and '-' (nothing URL-special)."""
    allowed = set(string.ascii_letters + string.digits + "._-")
    for char in map(chr, range(0x250)):
        ok = ID_PATTERN.fullmatch("a" + char) is not None
        assert ok == (char in allowed), repr(char)
    assert PROJECT
    assert ID_PATTERN.fullmatch(PROJECT)
