"""Property test: AkSkAuth signs exactly like Huawei's official signer (huaweicloudsdkcore)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aom_bot.aom.auth import AkSkAuth

HOST = "aom.cn-north-4.myhuaweicloud.com"
PROJECT = "0123456789abcdef0123456789abcdef"
AK = "TESTAK1234567890ABCD"

# Reserved, unreserved, percent, plus, space and non-ASCII (CJK, accents, emoji).
_TEXT = st.text(
    alphabet=st.sampled_from(
        list(string.ascii_letters + string.digits + " -_.~!*'();:@&=+$,/?#[]%") + list("éü中文🔥")
    ),
    max_size=12,
)
# "." and ".." are excluded: httpx (like every URL library) removes dot segments before sending.
_SEGMENT = _TEXT.filter(lambda s: s not in ("", ".", ".."))
_HEADER_NAME = st.from_regex(r"x-[a-z0-9]{1,8}(-[a-z0-9_]{1,6})?", fullmatch=True).filter(
    lambda name: name not in ("x-project-id", "x-sdk-date", "x-security-token")
)
_HEADER_VALUE = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/=", max_size=20).map(
    str.strip
)
_DATES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@dataclass(frozen=True)
class Case:
    method: str
    segments: list[str]
    pairs: list[tuple[str, str]]
    body: bytes
    extra: dict[str, str]
    sk: str
    token: str | None
    date: datetime

    @property
    def path(self) -> str:
        return "/" + "/".join(quote(segment, safe="") for segment in self.segments)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    keys = draw(st.lists(_TEXT, min_size=1, max_size=3))
    return Case(
        method=draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])),
        segments=draw(st.lists(_SEGMENT, min_size=1, max_size=4)),
        pairs=draw(st.lists(st.tuples(st.sampled_from(keys), _TEXT), max_size=5)),  # repeated keys
        body=draw(st.one_of(st.just(b""), st.text(max_size=40).map(str.encode))),
        extra=draw(st.dictionaries(_HEADER_NAME, _HEADER_VALUE, max_size=3)),
        sk=draw(st.text(alphabet=string.printable.strip(), min_size=1, max_size=40)),
        token=draw(st.none() | st.text(alphabet=string.ascii_letters + "+/=", min_size=1)),
        date=draw(_DATES),
    )


def official(case: Case) -> tuple[str, str]:
    """Sign with huaweicloudsdkcore as reference §7.4 describes."""
    headers = {
        "Content-Type": "application/json",
        "X-Sdk-Date": case.date.strftime("%Y%m%dT%H%M%SZ"),
    }
    headers.update(case.extra)
    request = SdkRequest(
        method=case.method,
        schema="https",
        host=HOST,
        resource_path=case.path,
        query_params=list(case.pairs),
        header_params=headers,
        body=case.body,
    )
    credentials = BasicCredentials(AK, case.sk, PROJECT)
    if case.token:
        credentials.security_token = case.token
    signed = credentials.sign_request(request)
    return signed.header_params["Authorization"], signed.uri


def ours(case: Case) -> tuple[str, str]:
    """Sign with AkSkAuth, from a URL whose query is deliberately not in canonical order."""
    auth = AkSkAuth(
        ak=AK,
        sk=case.sk,
        project_id=PROJECT,
        security_token=case.token,
        clock=lambda: case.date,
        extra_signed_headers=case.extra,
    )
    raw_query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in case.pairs)
    url = f"https://{HOST}{case.path}" + (f"?{raw_query}" if raw_query else "")
    request = httpx.Request(
        case.method,
        url,
        content=case.body,
        headers={"Content-Type": "application/json", "Accept": "*/*", **case.extra},
    )
    auth.sign(request)
    return request.headers["Authorization"], request.url.raw_path.decode("ascii")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_same_authorization_and_uri_as_the_official_signer(case: Case) -> None:
    """For generated requests our Authorization header and URI equal the official SDK's, byte for byte."""
    assert ours(case) == official(case)
