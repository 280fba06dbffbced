"""Each AOM profile as the bot's parts use it: which project, which clients, which links.

A follow, a subscription and a command each belong to one profile; the engine, discovery and
the listeners look the profile's account up by name here instead of holding one AOM client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass

from aom_bot.aom.reader import AomActor, AomReader
from aom_bot.errors import ConfigError, UnknownProfileError
from aom_bot.render.links import console_link

__all__ = ["AomAccount", "AomAccounts"]

log = logging.getLogger("aom_bot.aom")


@dataclass(frozen=True, slots=True, kw_only=True)
class AomAccount:
    """One profile's project: its readers (commands answer people; polling follows, with
    shorter retries), its console links and its workflow names."""

    name: str
    region: str
    project_id: str
    commands: AomReader
    polling: AomReader
    #: ``console_url`` template of the profile, or None for no Console button
    console_url_template: str | None = None
    #: workflow ID → name (``WorkflowNames.name``); None shows IDs only
    workflow_names: Callable[[str], Awaitable[str | None]] | None = None
    #: how cards name the profile when the bot has several ("prod · cn-north-4"); else None
    label: str | None = None
    #: what changes executions (terminate, node operations, execute); None: actions off
    actor: AomActor | None = None
    #: the actions that need a second person's approval here (``two_person``)
    two_person: frozenset[str] = frozenset()

    def console_url(self, workflow_id: str, execution_id: str) -> str | None:
        """The execution's console link, or None (no template, or a broken one: logged)."""
        try:
            return console_link(
                self.console_url_template,
                region=self.region,
                project_id=self.project_id,
                workflow_id=workflow_id,
                execution_id=execution_id,
            )
        except ConfigError as exc:
            log.warning("aom.console_link.unusable profile=%s reason=%s", self.name, exc.message)
            return None

    async def workflow_name(self, workflow_id: str) -> str | None:
        """The workflow's name for a card title, when AOM can tell (None: the ID is shown)."""
        return await self.workflow_names(workflow_id) if self.workflow_names else None


class AomAccounts:
    """The bot's profiles by name, in configuration order."""

    def __init__(self, accounts: Iterable[AomAccount]) -> None:
        self._accounts = {account.name: account for account in accounts}
        if not self._accounts:
            raise ValueError("at least one AOM profile is needed")

    @classmethod
    def single(
        cls, reader: AomReader, *, name: str = "default", project_id: str = ""
    ) -> AomAccounts:
        """One profile whose commands and polls use ``reader`` (tests, benchmarks)."""
        return cls(
            [
                AomAccount(
                    name=name, region="", project_id=project_id, commands=reader, polling=reader
                )
            ]
        )

    def get(self, name: str) -> AomAccount:
        """The profile ``name``; UnknownProfileError names the known ones."""
        account = self._accounts.get(name)
        if account is None:
            raise UnknownProfileError(name, tuple(self._accounts))
        return account

    def __contains__(self, name: object) -> bool:
        return name in self._accounts

    def __iter__(self) -> Iterator[AomAccount]:
        return iter(self._accounts.values())

    def __len__(self) -> int:
        return len(self._accounts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    @property
    def several(self) -> bool:
        """More than one profile: cards and lists say which one they show."""
        return len(self._accounts) > 1

    @property
    def first(self) -> AomAccount:
        return next(iter(self._accounts.values()))
