"""Endpoints of AOM and IAM per region (reference §8).

>>> aom_endpoint("cn-north-4")
'https://aom.cn-north-4.myhuaweicloud.com'
>>> iam_endpoint("cn-southwest-3")
'https://iam.myhuaweicloud.com'
"""

from __future__ import annotations

import re

from aom_bot.errors import ConfigError

__all__ = [
    "AOM_REGIONS",
    "AUTOMATION_REGIONS",
    "GLOBAL_IAM_ENDPOINT",
    "IAM_REGIONS",
    "aom_endpoint",
    "iam_endpoint",
    "validate_region",
]

_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,3}")

#: regions where the ``aom.`` host exists (the SDK's AomRegion table)
AOM_REGIONS: frozenset[str] = frozenset(
    {
        "cn-north-4", "cn-east-3", "cn-south-1", "cn-east-2", "cn-north-1", "cn-southwest-2",
        "ap-southeast-1", "af-south-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "cn-north-2", "ru-northwest-2", "la-south-2", "sa-brazil-1", "la-north-2", "cn-north-9",
        "cn-south-2", "na-mexico-1", "tr-west-1", "me-east-1", "ae-ad-1", "ru-moscow-1",
        "my-kualalumpur-1", "ap-southeast-5", "af-north-1", "cn-north-12", "cn-east-5",
        "cn-east-4", "cn-north-11", "cn-southwest-3",
    }
)  # fmt: skip

#: regions where the automation (CMS workflow) API is open, per the SDK docstrings
AUTOMATION_REGIONS: frozenset[str] = frozenset(
    {"cn-north-4", "cn-east-3", "cn-east-2", "cn-south-1"}
)

#: regions with their own IAM endpoint; every other region uses the global one
IAM_REGIONS: frozenset[str] = frozenset(
    {
        "cn-north-2", "cn-north-4", "cn-north-1", "cn-east-2", "cn-east-3", "cn-south-1",
        "cn-south-2", "cn-southwest-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
        "af-south-1", "sa-brazil-1", "la-south-2", "na-mexico-1", "la-north-2", "cn-north-9",
        "eu-west-0", "my-kualalumpur-1", "ru-moscow-1", "me-east-1", "ap-southeast-4", "ae-ad-1",
        "cn-east-4", "cn-east-5", "tr-west-1", "cn-north-12",
    }
)  # fmt: skip

GLOBAL_IAM_ENDPOINT = "https://iam.myhuaweicloud.com"


def validate_region(region: str) -> str:
    """Return ``region`` if it looks like a Huawei Cloud region ID, else raise ConfigError.

    The region is pasted into a host name, so anything else (dots, slashes, upper case) is refused.
    """
    if not isinstance(region, str) or _REGION.fullmatch(region) is None:
        shown = region[:40] if isinstance(region, str) else repr(region)
        raise ConfigError(
            f"{shown!r} is not a region ID.",
            hint="Use an ID such as cn-north-4 (see the AOM console's region list).",
        )
    return region


def aom_endpoint(region: str) -> str:
    """Base URL of AOM in ``region`` (the format is checked; unknown regions are allowed)."""
    return f"https://aom.{validate_region(region)}.myhuaweicloud.com"


def iam_endpoint(region: str) -> str:
    """Base URL of IAM for ``region``: regional where it exists, else the global endpoint."""
    if validate_region(region) in IAM_REGIONS:
        return f"https://iam.{region}.myhuaweicloud.com"
    return GLOBAL_IAM_ENDPOINT
