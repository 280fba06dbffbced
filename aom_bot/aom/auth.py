"""httpx authentication for AOM: AK/SK request signing, and IAM tokens.

Both are ``httpx.Auth`` objects handed to the shared ``httpx.AsyncClient``; the client never sees
a secret, so no secret can leak into its logs, reprs or exceptions.

>>> auth = AkSkAuth(ak="AK", sk="SK", project_id="0123456789abcdef0123456789abcdef")
>>> "SK" in repr(auth)
False
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol
from urllib.parse import unquote

import httpx
from pydantic import SecretStr

from aom_bot.aom import signing
from aom_bot.aom.ids import validate_project_id

__all__ = ["AkSkAuth", "TokenAuth", "TokenSource", "UtcNow", "utc_now"]

#: returns the current time, timezone-aware; injected so tests control time. A bare callable
#: (signing and token expiry only read the date), not the ``aom_bot.clock.Clock`` protocol
UtcNow = Callable[[], datetime]

# The headers AOM needs signed. httpx's own defaults (accept, user-agent, connection ...) are left
# out on purpose: they may change between httpx versions or be rewritten by a transport.
_BASE_SIGNED = ("content-type", "host", "x-project-id", "x-sdk-date", "x-security-token")
#: the canonical form of the paths requested (the same few thousand, over and over; encoding
#: one costs microseconds), the least recently used out
_canonical_uri = lru_cache(maxsize=16_384)(signing.canonical_uri)


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
        clock: UtcNow = utc_now,
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
        self._signed_set = frozenset(self._signed)
        self._date_second: int | None = None
        self._date_text = ""

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
        sdk_date = self._sdk_date(self._clock())
        headers["X-Sdk-Date"] = sdk_date
        path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
        canonical = ""
        if raw_query:
            canonical = signing.canonical_query(split_query(raw_query))
            if canonical != raw_query:
                request.url = request.url.copy_with(query=canonical.encode("ascii") or None)
        # One pass over the headers (a Headers.get each costs a pass); repeated headers are
        # joined with ", ", as Headers.get and Headers.items() do.
        found: dict[str, str] = {}
        for name, value in headers.multi_items():
            if name in self._signed_set:
                found[name] = f"{found[name]}, {value}" if name in found else value
        to_sign = {name: found[name] for name in self._signed if name in found}
        headers["Authorization"] = signing.signed_request_authorization(
            ak=self._ak,
            sk=self._sk.get_secret_value(),
            method=request.method,
            uri=_canonical_uri(path),
            query=canonical,
            signed=[(name, value.strip()) for name, value in to_sign.items()],
            body_hash=signing.payload_hash(request.content, to_sign),
            sdk_date=sdk_date,
        )

    def _sdk_date(self, moment: datetime) -> str:
        # One strftime per second rather than per request.
        second = math.floor(moment.timestamp())
        if second != self._date_second:
            self._date_second, self._date_text = second, signing.format_sdk_date(moment)
        return self._date_text


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

    async def aclose(self) -> None:
        """Close the source's own HTTP client (IAM), if it has one."""
        close = getattr(self._source, "aclose", None)
        if close is not None:
            await close()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")

    async def send(
        self,
        request: httpx.Request,
        send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    ) -> httpx.Response:
        """:meth:`async_auth_flow` with ``send`` for httpx's client: the token, and on a 401 a
        fresh one and one more try (the refused answer closed first, as httpx does)."""
        token = await self._source.token()
        request.headers["X-Auth-Token"] = token
        response = await send(request)
        if response.status_code != httpx.codes.UNAUTHORIZED:
            return response
        self._source.invalidate(token)
        fresh = await self._source.token()
        if fresh == token:
            return response
        await response.aread()  # as httpx does: the connection goes back to the pool
        await response.aclose()
        request.headers["X-Auth-Token"] = fresh
        return await send(request)

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
