"""AkSkAuth's per-path and per-second caches never change what is signed."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import unquote

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from aom_bot.aom import signing
from aom_bot.aom.auth import AkSkAuth

from .helpers import FIXED_NOW, PROJECT

AK = "TESTAK1234567890ABCD"
SK = "testSecretKey0123456789abcdefghijklmnopqr"


def reference_authorization(request: httpx.Request) -> str:
    """The signature computed from scratch by the plain, uncached signer."""
    path, _, query = request.url.raw_path.decode("ascii").partition("?")
    pairs = [part for part in query.split("&") if part]
    signed = ("content-type", "host", "x-project-id", "x-sdk-date")
    return signing.authorization_header(
        ak=AK,
        sk=SK,
        method=request.method,
        path=path,
        query=[(unquote(k), unquote(v)) for k, _, v in (p.partition("=") for p in pairs)],
        headers={name: request.headers[name] for name in signed if name in request.headers},
        body=request.content,
    )


class SteppingClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def signed(auth: AkSkAuth, url: str, body: bytes = b"") -> httpx.Request:
    request = httpx.Request(
        "POST" if body else "GET", url, content=body, headers={"Content-Type": "application/json"}
    )
    auth.sign(request)
    return request


def test_date_follows_the_clock_across_seconds() -> None:
    """X-Sdk-Date changes exactly when the clock's second does, and signatures follow it."""
    clock = SteppingClock(FIXED_NOW.replace(microsecond=999_000))
    auth = AkSkAuth(ak=AK, sk=SK, project_id=PROJECT, clock=clock)
    url = f"https://aom.example/v1/{PROJECT}/cms/workflow/wf-1/executions/ex-1/status"
    first = signed(auth, url)
    clock.now += timedelta(microseconds=1_500)  # next second
    second = signed(auth, url)
    clock.now += timedelta(milliseconds=100)  # same second
    third = signed(auth, url)
    assert first.headers["X-Sdk-Date"] == signing.format_sdk_date(FIXED_NOW)
    assert second.headers["X-Sdk-Date"] == signing.format_sdk_date(FIXED_NOW + timedelta(seconds=1))
    assert third.headers["X-Sdk-Date"] == second.headers["X-Sdk-Date"]
    assert first.headers["Authorization"] != second.headers["Authorization"]
    for request in (first, second, third):
        assert request.headers["Authorization"] == reference_authorization(request)


_SEGMENT = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="/?#"), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(_SEGMENT, min_size=1, max_size=3), min_size=1, max_size=4),
    st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=3),
    st.binary(max_size=20),
)
def test_cached_signing_matches_the_plain_signer(
    paths: list[list[str]], query: list[tuple[str, str]], body: bytes
) -> None:
    """Many requests through one AkSkAuth (its caches warm) sign as the uncached signer does."""
    auth = AkSkAuth(ak=AK, sk=SK, project_id=PROJECT, clock=lambda: FIXED_NOW)
    for segments in paths * 2:
        url = httpx.URL("https://aom.example/" + "/".join(segments), params=query)
        request = signed(auth, str(url), body)
        assert request.headers["Authorization"] == reference_authorization(request)
