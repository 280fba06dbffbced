"""Slack user-group membership for the access policy, read with ``usergroups.users.list``.

Each group's members are cached for ``ttl`` seconds (5 minutes: a person added to the on-call
group may act within that). A lookup Slack refuses counts as "not a member" (deny), logged once
per refresh; the bot never grants a permission it could not check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.clock import Clock

__all__ = ["GROUP_CACHE_SECONDS", "SlackUserGroups"]

log = logging.getLogger(__name__)

#: how long one group's member list is trusted (the issue's "cached ≤ 5 min")
GROUP_CACHE_SECONDS = 300.0


class SlackUserGroups:
    """Which of some user groups a user belongs to (needs the ``usergroups:read`` scope)."""

    def __init__(self, client: AsyncWebClient, clock: Clock, *, ttl: float = GROUP_CACHE_SECONDS):
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def groups_of(self, user_id: str, groups: Iterable[str]) -> frozenset[str]:
        """The groups among ``groups`` that ``user_id`` is a member of."""
        found = set()
        for group in sorted(set(groups)):
            if user_id in await self._members_of(group):
                found.add(group)
        return frozenset(found)

    async def _members_of(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached is not None and self._clock.monotonic() - cached[0] < self._ttl:
            return cached[1]
        lock = self._locks.setdefault(group, asyncio.Lock())
        async with lock:  # one request per group however many clicks arrive at once
            cached = self._members.get(group)
            if cached is not None and self._clock.monotonic() - cached[0] < self._ttl:
                return cached[1]
            members = await self._fetch(group)
            self._members[group] = (self._clock.monotonic(), members)
            return members

    async def _fetch(self, group: str) -> frozenset[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as error:
            log.warning(
                "slack.usergroup.unreadable group=%s error=%s", group, error.response.get("error")
            )
            return frozenset()
        except (SlackClientError, OSError) as error:
            log.warning("slack.usergroup.unreadable group=%s kind=%s", group, type(error).__name__)
            return frozenset()
        users = response.get("users")
        return (
            frozenset(u for u in users if isinstance(u, str))
            if isinstance(users, list)
            else (frozenset())
        )
