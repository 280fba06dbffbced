"""Stable identifiers derived from the world's seed, so two runs with one seed agree byte for byte."""

from __future__ import annotations

import hashlib

__all__ = ["hex_id", "uuid_id"]


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def hex_id(*parts: object) -> str:
    """A 32-character lowercase hex id (the shape of AOM workflow and project ids)."""
    return _digest(*parts)[:32]


def uuid_id(*parts: object) -> str:
    """A UUID-4-shaped id (the shape of AOM execution and ECS ids)."""
    h = _digest(*parts)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
