"""AkSkAuth: the documented signing vectors (reference §7.3) through the real client path."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from aom_bot.aom.auth import AkSkAuth
from aom_bot.aom.client import NodeAction

from .helpers import BASE_URL, FIXED_NOW, PROJECT, FakeAom, json_response, make_client

AK = "TESTAK1234567890ABCD"
SK = "testSecretKey0123456789abcdefghijklmnopqr"
BASE_SIGNED = "content-type;host;x-project-id;x-sdk-date"


def vector_auth(**kwargs: object) -> AkSkAuth:
    return AkSkAuth(ak=AK, sk=SK, project_id=PROJECT, clock=lambda: FIXED_NOW, **kwargs)  # type: ignore[arg-type]


def expected(signature: str, signed: str = BASE_SIGNED) -> str:
    return f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={signed}, Signature={signature}"


async def test_get_status_vector() -> None:
    """GET execution status is signed exactly like the official SDK's documented output."""
    fake = FakeAom(json_response({"execution_id": "ex-0001"}))
    async with make_client(fake, auth=vector_auth()) as aom:
        await aom.get_execution("wf-0001", "ex-0001")
    sent = fake.last
    assert sent.headers["Authorization"] == expected(
        "0f42bb5681eb8647933e637b57f284a9ee184c79d6037365f5437da518021c67"
    )
    assert sent.headers["X-Sdk-Date"] == "20240315T080910Z"
    assert sent.headers["X-Project-Id"] == PROJECT


async def test_workflow_list_vector() -> None:
    """The workflow-list POST body is serialised byte for byte as the vector's and signed alike."""
    fake = FakeAom(json_response({"elements": [], "total_elements": 0}))
    async with make_client(fake, auth=vector_auth()) as aom:
        await aom.list_workflows(page_size=10)
    assert (
        fake.last.content == b'{"page":0,"size":10,"sort_field":"update_time","sort_type":"DESC"}'
    )
    assert fake.last.headers["Authorization"] == expected(
        "d4ea30fc92e9543287c24868d8f4ea47b177eded389f68cdbf5d587fa17e95d3"
    )


async def test_operation_vector_sends_the_canonical_query() -> None:
    """The node operation is signed with the sorted query, and that same query is what is sent."""
    fake = FakeAom(json_response({"result": "success"}))
    async with make_client(fake, auth=vector_auth()) as aom:
        await aom.operate_node("wf-0001", "ex-0001", "run-script", NodeAction.RESTART)
    assert fake.last.url.query == b"action=restart&node_id=run-script"
    assert fake.last.headers["Authorization"] == expected(
        "0d9824568c8403d50919afa86d7dd7ef50e324d5f87d20f16bbf7a74eb712b3b"
    )


def test_security_token_vector_and_query_rewrite() -> None:
    """Temporary credentials sign X-Security-Token; a URL is rewritten to its signed query form."""
    auth = vector_auth(security_token="TEMPSECURITYTOKEN")
    request = httpx.Request(
        "PUT",
        f"{BASE_URL}/v1/{PROJECT}/cms/workflow/wf-0001/trigger/action?action=enable",
        headers={"Content-Type": "application/json"},
    )
    auth.sign(request)
    assert request.headers["X-Security-Token"] == "TEMPSECURITYTOKEN"
    assert request.headers["Authorization"] == expected(
        "ef28321d62ce0bd840e4b9d8ccc0789ac91ebdc18875569435298387dde4cdba",
        BASE_SIGNED + ";x-security-token",
    )


def test_unsorted_query_is_sent_as_signed() -> None:
    """An unsorted, '+'-bearing query is replaced by the canonical one the signature covers."""
    request = httpx.Request("GET", f"{BASE_URL}/x?b=2&a=1+1&a=%20", headers={})
    vector_auth().sign(request)
    assert request.url.query == b"a=%20&a=1%2B1&b=2"


def test_httpx_default_headers_are_not_signed() -> None:
    """Accept, User-Agent and friends stay out of SignedHeaders so transports may change them."""
    request = httpx.Request(
        "GET",
        f"{BASE_URL}/x",
        headers={
            "Accept": "application/json",
            "User-Agent": "x",
            "Content-Type": "application/json",
        },
    )
    vector_auth().sign(request)
    assert f"SignedHeaders={BASE_SIGNED}," in request.headers["Authorization"]


async def test_every_attempt_gets_a_fresh_date() -> None:
    """A retried request is re-signed with the clock's current time, not the first attempt's."""
    times = iter([FIXED_NOW, FIXED_NOW + timedelta(seconds=3)])
    auth = AkSkAuth(ak=AK, sk=SK, project_id=PROJECT, clock=lambda: next(times))
    fake = FakeAom(httpx.Response(503), json_response({}))
    async with make_client(fake, auth=auth) as aom:
        await aom.get_execution("wf-0001", "ex-0001")
    dates = [r.headers["X-Sdk-Date"] for r in fake.requests]
    assert dates == ["20240315T080910Z", "20240315T080913Z"]
    assert fake.requests[0].headers["Authorization"] != fake.requests[1].headers["Authorization"]


def test_repr_and_str_hide_the_secret_key() -> None:
    """Neither repr nor str of the auth object shows the SK, the full AK or the security token."""
    auth = vector_auth(security_token="TEMPSECURITYTOKEN")
    for text in (repr(auth), str(auth)):
        assert SK not in text
        assert AK not in text
        assert "TEMPSECURITYTOKEN" not in text


def test_empty_credentials_are_refused() -> None:
    """Missing AK or SK fails at construction, not at the first request."""
    with pytest.raises(ValueError, match="AK and SK"):
        AkSkAuth(ak="", sk=SK, project_id=PROJECT)
