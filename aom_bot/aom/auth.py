"""httpx authentication for AOM: AK/SK request signing, and IAM tokens.

Both are ``httpx.Auth`` objects handed to the shared ``httpx.AsyncClient``; the client never sees
a secret, so no secret can leak into its logs, reprs or exceptions.

>>> auth = AkSkAuth(ak="AK", sk="SK", project_id="0123456789abcdef0123456789abcdef")
>>> "SK" in repr(auth)
False
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import unquote

import httpx
from pydantic import SecretStr

from aom_bot.aom import signing
from aom_bot.aom.ids import validate_project_id

__all__ = ["AkSkAuth", "Clock", "TokenAuth", "TokenSource", "utc_now"]

#: returns the current time, timezone-aware; injected so tests control time
Clock = Callable[[], datetime]

# The headers AOM needs signed. httpx's own defaults (accept, user-agent, connection ...) are left
# out on purpose: they may change between httpx versions or be rewritten by a transport.
_BASE_SIGNED = ("content-type", "host", "x-project-id", "x-sdk-date", "x-security-token")


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def _mask(value: str) -> str:
    return value[:4] + "…" if len(value) > 4 else "…"


def split_query(raw_query: str) -> list[tuple[str, str]]:
    """Decode a raw query string into (key, value) pairs; '+' stays '+' (as the signer sees it)."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


class AkSkAuth(httpx.Auth):
    """Sign every request with SDK-HMAC-SHA256, as Huawei's official SDK does.

    Adds ``X-Project-Id`` (and ``X-Security-Token`` for temporary credentials) before signing,
    sets a fresh ``X-Sdk-Date`` on every attempt, and rewrites the query into its canonical
    (sorted, encoded) form so that the URL sent is exactly the one signed.
    ``extra_signed_headers`` names further headers to sign when present.
    """

    requires_request_body = True

    def __init__(
        self,
        *,
        ak: str,
        sk: str,
        project_id: str,
        security_token: str | None = None,
        clock: Clock = utc_now,
        extra_signed_headers: Iterable[str] = (),
    ) -> None:
        if not ak or not sk:
            raise ValueError("AK and SK must both be non-empty")
        self._ak = ak
        self._sk = SecretStr(sk)
        self._project_id = validate_project_id(project_id)
        self._security_token = SecretStr(security_token) if security_token else None
        self._clock = clock
        extra = {name.lower() for name in extra_signed_headers if "_" not in name}
        self._signed = tuple(sorted(set(_BASE_SIGNED) | extra))

    def __repr__(self) -> str:
        return (
            f"AkSkAuth(ak={_mask(self._ak)!r}, project_id={self._project_id!r}, "
            f"temporary={self._security_token is not None})"
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add the signing headers and ``Authorization`` to ``request`` in place."""
        headers = request.headers
        headers["X-Project-Id"] = self._project_id
        if self._security_token is not None:
            headers["X-Security-Token"] = self._security_token.get_secret_value()
        headers["X-Sdk-Date"] = signing.format_sdk_date(self._clock())
        path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
        pairs = split_query(raw_query)
        canonical = signing.canonical_query(pairs)
        if canonical != raw_query:
            request.url = request.url.copy_with(query=canonical.encode("ascii") or None)
        present = dict(headers.items())  # lower-cased names; one pass over httpx's header list
        to_sign = {name: present[name] for name in self._signed if name in present}
        headers["Authorization"] = signing.authorization_header(
            ak=self._ak,
            sk=self._sk.get_secret_value(),
            method=request.method,
            path=path,
            query=pairs,
            headers=to_sign,
            body=request.content,
        )


class TokenSource(Protocol):
    """Where ``TokenAuth`` gets IAM tokens: a fixed token, or an IAM-backed cache."""

    async def token(self) -> str:
        """A token that is valid now (may call IAM)."""
        ...

    def invalidate(self, token: str) -> None:
        """Forget ``token``: AOM refused it, so the next ``token()`` must fetch a new one."""
        ...


class TokenAuth(httpx.Auth):
    """Send ``X-Auth-Token``; on a 401 ask the source for a new token and try once more."""

    def __init__(self, source: TokenSource) -> None:
        self._source = source

    def __repr__(self) -> str:
        return f"TokenAuth(source={type(self._source).__name__})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._source.token()
        request.headers["X-Auth-Token"] = token
        response = yield request
        if response.status_code != httpx.codes.UNAUTHORIZED:
            return
        self._source.invalidate(token)
        fresh = await self._source.token()
        if fresh != token:
            request.headers["X-Auth-Token"] = fresh
            yield request
