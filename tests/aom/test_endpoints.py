"""Regional endpoints of AOM and IAM (reference §8)."""

from __future__ import annotations

import pytest

from aom_bot.aom.endpoints import AOM_REGIONS, AUTOMATION_REGIONS, aom_endpoint, iam_endpoint
from aom_bot.errors import ConfigError


def test_aom_endpoint() -> None:
    """AOM lives at aom.<region>.myhuaweicloud.com."""
    assert aom_endpoint("cn-north-4") == "https://aom.cn-north-4.myhuaweicloud.com"
    assert aom_endpoint("my-kualalumpur-1") == "https://aom.my-kualalumpur-1.myhuaweicloud.com"


@pytest.mark.parametrize(
    ("region", "iam"),
    [
        ("cn-north-4", "https://iam.cn-north-4.myhuaweicloud.com"),
        ("eu-west-0", "https://iam.eu-west-0.myhuaweicloud.com"),
        ("cn-north-12", "https://iam.cn-north-12.myhuaweicloud.com"),
        ("af-north-1", "https://iam.myhuaweicloud.com"),
        ("ap-southeast-5", "https://iam.myhuaweicloud.com"),
        ("cn-north-11", "https://iam.myhuaweicloud.com"),
        ("cn-southwest-3", "https://iam.myhuaweicloud.com"),
        ("ru-northwest-2", "https://iam.myhuaweicloud.com"),
    ],
)
def test_iam_endpoint_regional_or_global(region: str, iam: str) -> None:
    """Regions with their own IAM use it; the others fall back to the global endpoint."""
    assert iam_endpoint(region) == iam


def test_automation_regions_are_aom_regions() -> None:
    """The four automation regions are all AOM regions, and every AOM region is well formed."""
    assert AUTOMATION_REGIONS <= AOM_REGIONS
    assert len(AOM_REGIONS) == 31
    for region in AOM_REGIONS:
        aom_endpoint(region)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "cn-north",
        "CN-NORTH-4",
        "cn-north-4.evil.com",
        "cn-north-4/",
        "evil.com#",
        "cn north 4",
        "cn-north-4\n",
    ],
)
def test_malformed_regions_are_refused(bad: str) -> None:
    """A region is pasted into a host name, so anything not shaped like one is a ConfigError."""
    with pytest.raises(ConfigError, match="not a region ID"):
        aom_endpoint(bad)
    with pytest.raises(ConfigError):
        iam_endpoint(bad)
