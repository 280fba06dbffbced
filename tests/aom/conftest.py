"""Fixtures for the AOM client tests: no real waits, no network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """Retries keep their attempt budget (capped at 10) but never sleep."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield
