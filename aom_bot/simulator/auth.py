"""Server-side authentication for the simulated AOM: AK/SK signatures, tokens, a tiny IAM.

Signatures are checked the way API Gateway does it: rebuild the canonical request from what was
received, using the ``SignedHeaders`` the client listed, with the pure functions of
``aom_bot.aom.signing`` (the same ones the client signs with; the official SDK test proves they
agree with Huawei's signer). No credentials configured means *open demo mode*: everything is
accepted, which :attr:`SimulatorCredentials.is_open` makes explicit.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aom_bot.aom.signing import (
    canonical_request,
    parse_authorization,
    parse_sdk_date,
    payload_hash,
    signature,
)

__all__ = ["AuthFailure", "Authenticator", "Identity", "SimulatorCredentials"]

_MAX_SKEW = timedelta(minutes=15)
_TOKEN_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorCredentials:
    """What the simulator accepts. Leave everything unset for open demo mode.

    ``ak``/``sk`` enable signature checks (``security_token`` additionally requires a matching,
    signed ``X-Security-Token``); ``tokens`` are accepted as ``X-Auth-Token``; ``iam_user`` /
    ``iam_password`` are what the IAM token endpoint accepts in a password body. ``user_name`` is
    shown as ``created_by`` of runs started with the AK/SK.
    """

    ak: str | None = None
    sk: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    tokens: frozenset[str] = field(default=frozenset(), repr=False)
    iam_user: str | None = None
    iam_password: str | None = field(default=None, repr=False)
    user_name: str = "ops_bot"

    @property
    def is_open(self) -> bool:
        """True when nothing is configured: every request is accepted (demo mode)."""
        return not (self.ak or self.tokens or self.iam_user)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request was authenticated as."""

    user: str


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request was refused; ``gateway`` picks APIG's body over AOM's."""

    reason: str
    gateway: bool


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(slots=True)
class _Issued:
    user: str
    expires: datetime


class Authenticator:
    """Checks requests against :class:`SimulatorCredentials` and remembers IAM-issued tokens."""

    def __init__(self, credentials: SimulatorCredentials) -> None:
        self.credentials = credentials
        self._issued: dict[str, _Issued] = {}

    def check(self, *, method: str, path: str, query: Iterable[tuple[str, str]],
              headers: Mapping[str, str], body: bytes, project_id: str,
              now: datetime) -> Identity | AuthFailure:  # fmt: skip
        """Authenticate one AOM request (``headers`` with lower-case names)."""
        creds = self.credentials
        if creds.is_open:
            return Identity(creds.user_name)
        token = headers.get("x-auth-token")
        if token is not None:
            return self._token(token, now)
        auth = headers.get("authorization")
        if auth is None:
            return AuthFailure("no credentials in the request", gateway=False)
        return self._signature(auth, method, path, query, headers, body, project_id, now)

    def _token(self, token: str, now: datetime) -> Identity | AuthFailure:
        for known in self.credentials.tokens:
            if _same(token, known):
                return Identity(self.credentials.user_name)
        issued = self._issued.get(token)
        if issued is not None and now < issued.expires:
            return Identity(issued.user)
        return AuthFailure("unknown or expired token", gateway=False)

    def _signature(self, auth: str, method: str, path: str, query: Iterable[tuple[str, str]],
                   headers: Mapping[str, str], body: bytes, project_id: str,
                   now: datetime) -> Identity | AuthFailure:  # fmt: skip
        creds = self.credentials
        parsed = parse_authorization(auth)
        if parsed is None or not creds.ak or not creds.sk:
            return AuthFailure("verify aksk signature fail", gateway=True)
        access, signed, sig = parsed
        if not _same(access, creds.ak):
            return AuthFailure("ak not found", gateway=True)
        if "host" not in signed or "x-sdk-date" not in signed:
            return AuthFailure("host and x-sdk-date must be signed", gateway=True)
        sdk_date = headers.get("x-sdk-date", "")
        try:
            moment = parse_sdk_date(sdk_date)
        except ValueError:
            return AuthFailure("x-sdk-date is malformed", gateway=True)
        if abs(now - moment) > _MAX_SKEW:
            return AuthFailure("x-sdk-date expired", gateway=True)
        request = canonical_request(
            method=method, path=path, query=query, headers=headers, signed_headers=signed,
            body_hash=payload_hash(body, headers),
        )  # fmt: skip
        expected = signature(sk=creds.sk, sdk_date=sdk_date, request=request)
        if not _same(expected, sig):
            return AuthFailure("verify aksk signature fail", gateway=True)
        if "x-project-id" in signed and headers.get("x-project-id") != project_id:
            return AuthFailure("X-Project-Id does not match the project in the path", gateway=False)
        if creds.security_token is not None:
            sent = headers.get("x-security-token")
            if sent is None or "x-security-token" not in signed:
                return AuthFailure("temporary credentials need X-Security-Token", gateway=True)
            if not _same(sent, creds.security_token):
                return AuthFailure("security token mismatch", gateway=True)
        elif "x-security-token" in headers:
            return AuthFailure("unexpected X-Security-Token", gateway=True)
        return Identity(creds.user_name)

    # -- IAM ----------------------------------------------------------------------------------

    def issue(self, user: str, now: datetime) -> tuple[str, datetime]:
        """Mint a token (several hundred characters, as IAM's are long) valid for 24 h."""
        token = "MIIsim" + secrets.token_urlsafe(600)
        expires = now + _TOKEN_LIFETIME
        self._issued[token] = _Issued(user, expires)
        return token, expires

    def password_ok(self, user: str, password: str) -> bool:
        """Whether an IAM password body is accepted."""
        creds = self.credentials
        if creds.is_open:
            return True
        if not creds.iam_user or creds.iam_password is None:
            return False
        return _same(user, creds.iam_user) & _same(password, creds.iam_password)

    def token_user(self, token: str, now: datetime) -> str | None:
        """The user behind a valid token (for assume_role), else None."""
        result = self._token(token, now)
        if isinstance(result, Identity):
            return result.user
        return "anonymous" if self.credentials.is_open else None


def utc(epoch_seconds: float) -> datetime:
    """An aware UTC datetime for a clock reading."""
    return datetime.fromtimestamp(epoch_seconds, UTC)
