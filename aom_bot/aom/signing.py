"""SDK-HMAC-SHA256 request signing, byte-for-byte as Huawei's ``huaweicloudsdkcore`` signer.

Pure functions, no I/O and no httpx: the client's ``httpx.Auth`` and the simulator's verifier are
thin callers of these. Time is a parameter, so tests use fixed dates.

>>> auth = authorization_header(
...     ak="AK", sk="SK", method="GET", path="/v1/p/cms/workflow-list", query=[],
...     headers={"host": "aom.example", "x-sdk-date": "20240315T080910Z"}, body=b"")
>>> auth.startswith("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=")
True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "EMPTY_BODY_SHA256",
    "SDK_DATE_FORMAT",
    "authorization_header",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "format_sdk_date",
    "parse_authorization",
    "parse_sdk_date",
    "payload_hash",
    "signature",
    "signed_header_names",
    "signed_request_authorization",
]

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
_CONTENT_SHA256_HEADER = "x-sdk-content-sha256"


def _encode(value: str) -> str:
    # RFC 3986 unreserved characters only; space becomes %20, never '+'.
    return quote(value, safe="~")


def format_sdk_date(moment: datetime) -> str:
    """The ``X-Sdk-Date`` value for a moment (converted to UTC)."""
    return moment.astimezone(UTC).strftime(SDK_DATE_FORMAT)


def parse_sdk_date(value: str) -> datetime:
    """Parse an ``X-Sdk-Date`` value; raises ValueError when it is not in the basic format."""
    return datetime.strptime(value, SDK_DATE_FORMAT).replace(tzinfo=UTC)


def canonical_uri(path: str) -> str:
    """Decode the path, re-encode each segment, and end it with '/' (for signing only)."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sort the raw (key, value) pairs, then encode both sides; '' when there are none."""
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Lower-cased, sorted names of the headers that are signed (none with an underscore)."""
    return sorted({name.lower() for name in headers if "_" not in name})


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    """Hex SHA-256 of the body, the empty-body hash, or an explicit X-Sdk-Content-Sha256."""
    if not body:
        return EMPTY_BODY_SHA256
    for name, value in headers.items():
        if name.lower() == _CONTENT_SHA256_HEADER and value:
            return value
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    body_hash: str,
) -> str:
    """The canonical request: method, URI, query, headers, signed header list, payload hash."""
    by_name = {name.lower(): str(value).strip() for name, value in headers.items()}
    return _canonical(
        method,
        canonical_uri(path),
        canonical_query(query),
        [(name, by_name.get(name, "")) for name in signed_headers],
        body_hash,
    )


def _canonical(
    method: str, uri: str, query: str, signed: Sequence[tuple[str, str]], body_hash: str
) -> str:
    header_block = "".join(f"{name}:{value}\n" for name, value in signed)
    names = ";".join(name for name, _ in signed)
    return f"{method.upper()}\n{uri}\n{query}\n{header_block}\n{names}\n{body_hash}"


def signature(*, sk: str, sdk_date: str, request: str) -> str:
    """HMAC-SHA256 (key: the SK itself) of the string to sign, as lowercase hex."""
    digest = hashlib.sha256(request.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.digest(sk.encode("utf-8"), string_to_sign.encode("utf-8"), "sha256").hex()


def authorization_header(
    *,
    ak: str,
    sk: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """Sign a request. ``headers`` must hold every header to sign, ``X-Sdk-Date`` and ``Host``
    included; the result is the ``Authorization`` header's value."""
    lowered = {name.lower(): value for name, value in headers.items()}
    sdk_date = lowered.get("x-sdk-date")
    if not sdk_date:
        raise ValueError("X-Sdk-Date must be set before signing")
    names = signed_header_names(headers)
    request = canonical_request(
        method=method,
        path=path,
        query=query,
        headers=headers,
        signed_headers=names,
        body_hash=payload_hash(body, headers),
    )
    sig = signature(sk=sk, sdk_date=sdk_date, request=request)
    return f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(names)}, Signature={sig}"


def signed_request_authorization(
    *,
    ak: str,
    sk: str,
    method: str,
    uri: str,
    query: str,
    signed: Sequence[tuple[str, str]],
    body_hash: str,
    sdk_date: str,
) -> str:
    """:func:`authorization_header` from parts already in canonical form, for a hot path.

    ``uri`` is :func:`canonical_uri` of the path, ``query`` :func:`canonical_query` of the pairs,
    ``signed`` the (lower-case name, stripped value) headers to sign, sorted by name; the result
    is the same string :func:`authorization_header` gives for the same request.
    """
    request = _canonical(method, uri, query, signed, body_hash)
    sig = signature(sk=sk, sdk_date=sdk_date, request=request)
    names = ";".join(name for name, _ in signed)
    return f"{ALGORITHM} Access={ak}, SignedHeaders={names}, Signature={sig}"


def parse_authorization(value: str) -> tuple[str, list[str], str] | None:
    """Split an Authorization header into (access key, signed headers, signature), or None."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        return None
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    try:
        access, signed, sig = fields["Access"], fields["SignedHeaders"], fields["Signature"]
    except KeyError:
        return None
    if not access or not signed or not sig:
        return None
    return access, signed.split(";"), sig
