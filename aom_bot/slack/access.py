"""Which AOM profile a request is about, and whether the policy lets its user do it there.

Every command, button and subscription asks :class:`Access` before anything reaches AOM: the
profile is ``--profile NAME``, else the channel's binding, else the default profile; naming a
profile with ``--profile`` needs ``read`` there. A refusal is :class:`PermissionDenied`, which
the listeners answer privately. The configuration is read at each request, so a ``SIGHUP``
reload applies to the next click.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from aom_bot.aom.accounts import AomAccount, AomAccounts
from aom_bot.errors import PermissionDenied, UnknownProfileError
from aom_bot.profiles import BotConfig, Permission, Policy
from aom_bot.profiles.model import ACTIONS

__all__ = ["Access", "ConfigSource", "GroupMembership"]

log = logging.getLogger(__name__)


class ConfigSource(Protocol):
    """The configuration in force (``aom_bot.profiles.LiveConfig``)."""

    @property
    def current(self) -> BotConfig: ...


class GroupMembership(Protocol):
    """Which of ``groups`` a user is in (``aom_bot.slack.groups.SlackUserGroups``)."""

    async def groups_of(self, user_id: str, groups: Iterable[str]) -> frozenset[str]: ...


class Access:
    """Profile resolution and permission checks; see the module docstring.

    Without a configuration (``config`` None) there is the one profile, and everyone may
    read, follow and subscribe: the bot as it was before profiles.
    """

    def __init__(
        self,
        accounts: AomAccounts,
        config: ConfigSource | None = None,
        groups: GroupMembership | None = None,
    ) -> None:
        self._accounts = accounts
        self._config = config
        self._groups = groups
        self._open = Policy.open()

    @property
    def accounts(self) -> AomAccounts:
        return self._accounts

    def profile_name(self, channel_id: str | None, explicit: str | None = None) -> str:
        """The profile a request in ``channel_id`` is about. A name that is not configured is
        an UnknownProfileError listing only the profiles someone may read in this channel (a
        Slack user learns no other profile's name)."""
        try:
            if self._config is None:
                return self._accounts.get(explicit).name if explicit else self._accounts.first.name
            return self._config.current.profile_for(channel_id, explicit).name
        except UnknownProfileError as error:
            raise self._unknown(error.name, channel_id) from None

    def _unknown(self, name: str, channel_id: str | None) -> UnknownProfileError:
        readable = tuple(
            n
            for n in self._accounts.names
            if self.policy.anyone_may(Permission.READ, profile=n, channel_id=channel_id or "")
        )
        return UnknownProfileError(name, readable)

    async def account(
        self,
        permission: Permission,
        *,
        channel_id: str,
        user_id: str,
        explicit: str | None = None,
    ) -> AomAccount:
        """The account of the request's profile, once ``permission`` is checked there."""
        name = self.profile_name(channel_id, explicit)
        if explicit is not None and permission is not Permission.READ:
            await self.require(
                Permission.READ, profile=name, channel_id=channel_id, user_id=user_id
            )
        return await self.require(permission, profile=name, channel_id=channel_id, user_id=user_id)

    async def require(
        self, permission: Permission, *, profile: str, channel_id: str, user_id: str
    ) -> AomAccount:
        """The profile's account if ``user_id`` may do ``permission`` there; PermissionDenied
        (logged as ``access.denied``) otherwise."""
        if profile not in self._accounts:  # e.g. a button value naming a profile since removed
            raise self._unknown(profile, channel_id)
        account = self._accounts.get(profile)
        if not await self.allows(
            permission, profile=profile, channel_id=channel_id, user_id=user_id
        ):
            log.info(
                "access.denied permission=%s profile=%s channel=%s user=%s",
                permission.value,
                profile,
                channel_id,
                user_id,
            )
            raise PermissionDenied(permission.value, profile=profile, channel_id=channel_id)
        return account

    async def allows(
        self, permission: Permission, *, profile: str, channel_id: str, user_id: str
    ) -> bool:
        """Whether the policy lets ``user_id`` do ``permission`` in ``profile`` here."""
        policy = self.policy
        groups: frozenset[str] = frozenset()
        if self._groups is not None and policy.needs_groups(
            permission, profile=profile, channel_id=channel_id, user_id=user_id
        ):
            groups = await self._groups.groups_of(user_id, policy.group_ids)
        return policy.allows(
            permission, profile=profile, channel_id=channel_id, user_id=user_id, user_groups=groups
        )

    def anyone_may(self, permission: Permission, *, profile: str, channel_id: str) -> bool:
        """Whether some rule could allow ``permission`` here (a button is worth showing)."""
        return self.policy.anyone_may(permission, profile=profile, channel_id=channel_id)

    def needs_second_person(self, permission: Permission, *, profile: str) -> bool:
        """Whether ``two_person`` lists ``permission`` for ``profile``, as the file in force
        says (a SIGHUP applies to the next click)."""
        if self._config is not None:
            found = self._config.current.profiles.get(profile)
            if found is not None:
                return permission in found.two_person
        return permission.value in self._accounts.get(profile).two_person

    @property
    def actions_enabled(self) -> bool:
        """Whether any rule grants an action (terminate, retry, run): without a configuration
        file none does, and actions are off."""
        return any(rule.actions & ACTIONS for rule in self.policy.rules)

    @property
    def policy(self) -> Policy:
        return self._config.current.policy if self._config is not None else self._open

    @property
    def config(self) -> BotConfig | None:
        return self._config.current if self._config is not None else None
