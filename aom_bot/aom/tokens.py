"""IAM tokens for ``X-Auth-Token`` authentication (reference §7.1).

A token is fetched with ``POST {iam}/v3/auth/tokens`` (password, or assume-role for an agency),
read from the ``X-Subject-Token`` response header, cached, and renewed when less than an hour of
its 24 h life is left. One asyncio lock makes concurrent callers share a single IAM call.

>>> provider = IamTokenProvider(  # doctest: +SKIP
...     build_http_client(base_url=iam_endpoint("cn-north-4"), auth=None),
...     PasswordIdentity(user="bot", password="...", domain="acme", project_name="cn-north-4"))
>>> auth = TokenAuth(provider)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from pydantic import SecretStr

from aom_bot.aom.auth import TokenSource, UtcNow, utc_now
from aom_bot.aom.http import LOGGER_NAME, RetryPolicy, exchange
from aom_bot.aom.ids import validate_project_id
from aom_bot.errors import AomAuthError, AomResponseError

__all__ = ["AgencyIdentity", "IamTokenProvider", "PasswordIdentity", "StaticToken"]

#: documented token lifetime, assumed when IAM's body does not say
_TOKEN_LIFETIME = timedelta(hours=24)
#: never refetch sooner than this, even if IAM's expiry looks close (e.g. a skewed clock)
_MIN_REUSE = timedelta(minutes=5)
_MAX_IAM_BODY = 2 * 1024 * 1024
_TOKENS_PATH = "/v3/auth/tokens?nocatalog=true"


def _scope(project_id: str | None, project_name: str | None) -> dict[str, object]:
    if project_id:
        return {"project": {"id": validate_project_id(project_id)}}
    if project_name:
        return {"project": {"name": project_name}}
    raise ValueError("a project-scoped token needs project_id or project_name (the region)")


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordIdentity:
    """An IAM user's password login, scoped to a project (by ID, or by region name)."""

    user: str
    password: str = field(repr=False)
    domain: str
    project_id: str | None = None
    project_name: str | None = None

    def body(self) -> dict[str, object]:
        """The JSON body for ``POST /v3/auth/tokens``."""
        user = {"name": self.user, "password": self.password, "domain": {"name": self.domain}}
        return {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": _scope(self.project_id, self.project_name),
            }
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AgencyIdentity:
    """Assume an agency (delegation) of another account; ``source`` gives the delegated user's
    own token, which IAM requires as ``X-Auth-Token``."""

    agency_name: str
    source: TokenSource = field(repr=False)
    domain_name: str | None = None
    domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None

    def body(self) -> dict[str, object]:
        """The JSON body for ``POST /v3/auth/tokens``."""
        role: dict[str, str] = {"agency_name": self.agency_name}
        if self.domain_id:
            role["domain_id"] = self.domain_id
        elif self.domain_name:
            role["domain_name"] = self.domain_name
        else:
            raise ValueError("an agency needs domain_name or domain_id of the delegating account")
        return {
            "auth": {
                "identity": {"methods": ["assume_role"], "assume_role": role},
                "scope": _scope(self.project_id, self.project_name),
            }
        }


class StaticToken:
    """A token given by the operator; it cannot be renewed, so a 401 surfaces at once."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the token must not be empty")
        self._token = SecretStr(token)

    def __repr__(self) -> str:
        return "StaticToken(**********)"

    async def token(self) -> str:
        return self._token.get_secret_value()

    def invalidate(self, token: str) -> None:
        """Nothing to do: there is no other token to switch to."""


@dataclass(frozen=True, slots=True)
class _Cached:
    value: SecretStr
    expires_at: datetime
    refresh_at: datetime


def _expiry(body: bytes, now: datetime) -> datetime:
    try:
        data = json.loads(body)
        raw = data["token"]["expires_at"]
        expires = datetime.fromisoformat(raw)
    except (ValueError, TypeError, KeyError, RecursionError):
        return now + _TOKEN_LIFETIME
    return expires if expires.tzinfo else expires.replace(tzinfo=now.tzinfo)


class IamTokenProvider:
    """A cached IAM token: fetched on first use, renewed ahead of expiry or after a 401."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        identity: PasswordIdentity | AgencyIdentity,
        *,
        clock: UtcNow = utc_now,
        renew_before: timedelta = timedelta(hours=1),
        retry: RetryPolicy | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        identity.body()  # fail now, not at the first request, if the identity is incomplete
        self._http = http
        self._identity = identity
        self._clock = clock
        self._renew_before = renew_before
        self._retry = retry or RetryPolicy()
        self._log = logger or logging.getLogger(LOGGER_NAME)
        self._lock = asyncio.Lock()
        self._cached: _Cached | None = None

    def __repr__(self) -> str:
        return f"IamTokenProvider(base_url={str(self._http.base_url)!r}, {self._identity!r})"

    async def token(self) -> str:
        """A token valid for a while yet; at most one IAM call runs at a time."""
        cached = self._fresh()
        if cached is None:
            async with self._lock:
                cached = self._fresh() or await self._fetch()
                self._cached = cached
        return cached.value.get_secret_value()

    def invalidate(self, token: str) -> None:
        if self._cached is not None and self._cached.value.get_secret_value() == token:
            self._cached = None

    async def aclose(self) -> None:
        """Close the HTTP client used for IAM."""
        await self._http.aclose()

    def _fresh(self) -> _Cached | None:
        cached = self._cached
        return cached if cached is not None and self._clock() < cached.refresh_at else None

    async def _fetch(self) -> _Cached:
        identity = self._identity
        if isinstance(identity, AgencyIdentity):
            caller = await identity.source.token()
            try:
                return await self._retry.call(lambda: self._request(caller))
            except AomAuthError:
                identity.source.invalidate(caller)
                fresh = await identity.source.token()
                if fresh == caller:
                    raise
                return await self._retry.call(lambda: self._request(fresh))
        return await self._retry.call(lambda: self._request(None))

    async def _request(self, caller_token: str | None) -> _Cached:
        content = json.dumps(self._identity.body(), separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json;charset=utf8"}
        if caller_token is not None:
            headers["X-Auth-Token"] = caller_token
        request = self._http.build_request("POST", _TOKENS_PATH, content=content, headers=headers)
        reply = await exchange(
            self._http,
            request,
            action="get an IAM token",
            max_body_bytes=_MAX_IAM_BODY,
            clock=self._clock,
            logger=self._log,
            service="IAM",
        )
        token = reply.headers.get("X-Subject-Token", "")
        if not token:
            raise AomResponseError(
                "IAM answered without an X-Subject-Token header; no token was issued.",
                status_code=reply.status,
                request_id=reply.request_id,
            )
        now = self._clock()
        expires_at = _expiry(reply.body, now)
        refresh_at = max(expires_at - self._renew_before, now + _MIN_REUSE)
        self._log.info(
            "aom.iam.token_issued expires_at=%s",
            expires_at.isoformat(),
            extra={"event": "aom.iam.token_issued"},
        )
        return _Cached(SecretStr(token), expires_at, refresh_at)
