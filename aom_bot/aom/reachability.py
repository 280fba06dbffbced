"""Whether an AOM profile answers, from the outcome of its last request (for ``/healthz``).

A request that could not connect, timed out or got a 5xx makes the profile unreachable; any
answer at all (2xx, 4xx, 429) makes it reachable again. The profile's clients share one.
"""

from __future__ import annotations

from aom_bot.errors import AomError, AomServerError, AomTransportError

__all__ = ["Reachability"]


class Reachability:
    """The last request's verdict on one AOM profile."""

    def __init__(self) -> None:
        self.reachable = True

    def answered(self) -> None:
        """AOM answered (whatever it said)."""
        self.reachable = True

    def failed(self, error: AomError) -> None:
        """A request failed; only a failure to get an answer makes the profile unreachable."""
        if isinstance(error, AomTransportError | AomServerError):
            self.reachable = False
        else:
            self.answered()
