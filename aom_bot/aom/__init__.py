"""The AOM automation API: models, request signing, authentication and the async client.

Names are loaded lazily, so importing ``aom_bot.aom.models`` (as the pure rendering code does)
does not pull in httpx, aiohttp or stamina.

>>> from aom_bot.aom import AkSkAuth, AomClient, aom_endpoint, build_http_client
>>> http = build_http_client(base_url=aom_endpoint("cn-north-4"), auth=None)  # doctest: +SKIP
>>> aom = AomClient(http, project_id="0123456789abcdef0123456789abcdef")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aom_bot.aom.auth import AkSkAuth, TokenAuth, TokenSource
    from aom_bot.aom.client import AomClient, NodeAction
    from aom_bot.aom.endpoints import aom_endpoint, iam_endpoint
    from aom_bot.aom.http import RetryPolicy, build_http_client
    from aom_bot.aom.ids import validate_id
    from aom_bot.aom.tokens import (
        AgencyIdentity,
        IamTokenProvider,
        PasswordIdentity,
        StaticToken,
    )

__all__ = [
    "AgencyIdentity",
    "AkSkAuth",
    "AomClient",
    "IamTokenProvider",
    "NodeAction",
    "PasswordIdentity",
    "RetryPolicy",
    "StaticToken",
    "TokenAuth",
    "TokenSource",
    "aom_endpoint",
    "build_http_client",
    "iam_endpoint",
    "validate_id",
]

_HOMES = {
    "AkSkAuth": "auth",
    "TokenAuth": "auth",
    "TokenSource": "auth",
    "AomClient": "client",
    "NodeAction": "client",
    "RetryPolicy": "http",
    "build_http_client": "http",
    "aom_endpoint": "endpoints",
    "iam_endpoint": "endpoints",
    "validate_id": "ids",
    "AgencyIdentity": "tokens",
    "IamTokenProvider": "tokens",
    "PasswordIdentity": "tokens",
    "StaticToken": "tokens",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
