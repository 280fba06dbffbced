"""Fakes shared by the AOM client tests: a recording AOM stand-in for httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from aom_bot.aom.client import DEFAULT_MAX_BODY_BYTES, AomClient, RetryPolicy, build_http_client

PROJECT = "0123456789abcdef0123456789abcdef"
BASE_URL = "https://aom.cn-north-4.myhuaweicloud.com"
WF = "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b"
EX = "e3000000-0000-4000-8000-000000000003"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aom"
FIXED_NOW = datetime(2024, 3, 15, 8, 9, 10, tzinfo=UTC)

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> object:
    return json.loads(fixture_bytes(name))


def json_response(data: object, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(data).encode(), headers=headers)


class FakeAom:
    """Answers requests from a script (the last answer repeats) and records each request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers) or [httpx.Response(200, content=b"{}")]
        self.requests: list[httpx.Request] = []
        #: headers as they were when each request arrived (auth flows may reuse the object)
        self.headers_seen: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.headers_seen.append(request.headers.copy())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def make_client(
    fake: FakeAom,
    *,
    auth: httpx.Auth | None = None,
    retry: RetryPolicy | None = None,
    max_body_bytes: int | None = None,
) -> AomClient:
    http = build_http_client(base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(fake))
    return AomClient(
        http,
        project_id=PROJECT,
        retry=retry,
        clock=lambda: FIXED_NOW,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes,
    )
