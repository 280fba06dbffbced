"""Garbage-collector settings for the long-running bot process.

Each poll decodes an AOM body into thousands of short-lived dicts and strings (a 400-host body:
~10,000 objects). With CPython's default threshold (a collection every 700 allocations) one body
triggers a dozen young collections and, every hundred of those, a full one that walks every
object the process holds; measured, that is a third of the CPU of decoding a big body. Freezing
what start-up built keeps it out of every later full collection, and a larger young threshold
collects a few times per body instead of a dozen. Cycles are still collected, only less often.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_gc"]

#: allocations between two young collections (CPython's default: 700)
YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Call once, after start-up: collect, freeze the survivors, raise the young threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
