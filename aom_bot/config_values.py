"""The shapes of configured values (regions, project IDs, URLs), checked the same way for
environment variables (``config.Settings``) and the profiles file (``aom_bot.profiles``).

>>> region_endpoint(check_region("cn-north-4"))
'https://aom.cn-north-4.myhuaweicloud.com'
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["check_project_id", "check_region", "check_url", "region_endpoint"]

_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+){1,3}$")
_PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def region_endpoint(region: str) -> str:
    """The public AOM endpoint of ``region`` (AOM_ENDPOINT or a profile's ``endpoint`` overrides)."""
    return f"https://aom.{region}.myhuaweicloud.com"


def check_region(value: str) -> str:
    """``value`` if it is a region ID (such as cn-north-4), else ValueError (value not echoed)."""
    if not _REGION.match(value):
        raise ValueError("expected a region id such as cn-north-4")
    return value


def check_project_id(value: str) -> str:
    """``value`` if it has the shape of an IAM project ID, else ValueError."""
    if not _PROJECT_ID.match(value):
        raise ValueError("expected the IAM project id (32 hex characters in most regions)")
    return value


def check_url(
    value: str,
    *,
    credentials_at: str = "CLOUD_SDK_AK/CLOUD_SDK_SK, AOM_TOKEN or AOM_IAM_*",
) -> str:
    """An http(s) base URL without user:password, trailing slash removed; else ValueError.
    ``credentials_at`` says where credentials go instead of the URL."""
    value = value.strip()
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("expected an http:// or https:// URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("expected an http:// or https:// URL with a valid host and port") from None
    if "@" in parts.netloc:
        # Never echoed: the user part may hold a password.
        raise ValueError(
            f"must not contain a user name or password (user:pass@); credentials go in "
            f"{credentials_at}"
        )
    if not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value.rstrip("/")
