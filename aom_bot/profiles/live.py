"""The configuration in force, replaced as a whole on reload (SIGHUP).

Listeners read :attr:`LiveConfig.current` on each request, so a reload applies to the next one.
A file that no longer loads is refused and the old configuration stays. The profile *set* and
each profile's endpoints are fixed at start (an AOM client is built per profile): a reload that
adds, removes or re-points a profile keeps the old ones and says that a restart is needed, while
the policy, channel bindings, default_profile and the secrets (files and variables) take effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aom_bot.errors import ConfigError
from aom_bot.profiles.model import BotConfig, Profile

__all__ = ["LiveConfig", "Reconciled", "changed_credentials", "reconcile"]

_log = logging.getLogger("aom_bot.config")


@dataclass(frozen=True)
class Reconciled:
    """A reloaded configuration fitted to the running profile set, and what did not fit."""

    config: BotConfig
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    #: channel bindings left out because their profile is not running
    unbound: tuple[str, ...] = ()

    @property
    def needs_restart(self) -> bool:
        """Some change only takes effect when the bot restarts."""
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        """``added:a,removed:b,changed:c`` for the log line."""
        parts = [
            f"{what}:{','.join(names)}"
            for what, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", self.changed),
            )
            if names
        ]
        return ";".join(parts)


def reconcile(old: BotConfig, new: BotConfig) -> Reconciled:
    """``new`` with ``old``'s profile set: profiles added, removed or re-pointed (region,
    project, endpoints) stay as they were; the rest (credentials, console link, two_person),
    the policy, the bindings of running profiles and a running default_profile come from new."""
    added = tuple(name for name in new.profiles if name not in old.profiles)
    removed = tuple(name for name in old.profiles if name not in new.profiles)
    changed = tuple(
        name
        for name, profile in old.profiles.items()
        if name in new.profiles and not profile.same_endpoints(new.profiles[name])
    )
    profiles: dict[str, Profile] = {
        name: new.profiles[name] if name in new.profiles and name not in changed else profile
        for name, profile in old.profiles.items()
    }
    channels = {c: name for c, name in new.channels.items() if name in profiles}
    unbound = tuple(c for c in new.channels if c not in channels)
    default = new.default_profile if new.default_profile in profiles else old.default_profile
    config = BotConfig(
        profiles=profiles,
        default_profile=default,
        channels=channels,
        policy=new.policy,
        source=new.source,
    )
    return Reconciled(config, added, removed, changed, unbound)


def changed_credentials(old: BotConfig, new: BotConfig) -> tuple[str, ...]:
    """Profiles present in both whose credentials differ (their clients must switch keys)."""
    return tuple(
        name
        for name, profile in new.profiles.items()
        if name in old.profiles and old.profiles[name].credentials != profile.credentials
    )


def _one_line(text: str) -> str:
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


class LiveConfig:
    """Holds the current :class:`BotConfig`; :meth:`reload` swaps it for a freshly loaded one.

    ``loader`` is called once now (its ConfigError stops the bot from starting) and again on
    each reload. ``on_reload(old, new)`` runs after a reload took effect, e.g. to hand rotated
    credentials to the AOM clients (see :func:`changed_credentials`).
    """

    def __init__(
        self,
        loader: Callable[[], BotConfig],
        *,
        initial: BotConfig | None = None,
        on_reload: Callable[[BotConfig, BotConfig], None] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._loader = loader
        self._current = initial if initial is not None else loader()
        self._on_reload = on_reload
        self._log = logger or _log

    def set_reload_hook(self, hook: Callable[[BotConfig, BotConfig], None]) -> None:
        """Run ``hook(old, new)`` after each reload that took effect (set once the clients
        that need rotated credentials exist)."""
        self._on_reload = hook

    @property
    def current(self) -> BotConfig:
        """The configuration in force: read it on each request, never keep it."""
        return self._current

    def reload(self) -> bool:
        """Load again; True if the new configuration is now in force. A ConfigError keeps the old
        one (and is logged, without secrets: the loader never quotes them)."""
        old = self._current
        try:
            loaded = self._loader()
        except ConfigError as exc:
            self._log.warning(
                "config.reload_refused file=%s error=%s",
                old.source or "-",
                _one_line(exc.user_message(cli=True)),
                extra={"event": "config.reload_refused"},
            )
            return False
        fitted = reconcile(old, loaded)
        if fitted.needs_restart:
            unbound = f" channels_unbound={','.join(fitted.unbound)}" if fitted.unbound else ""
            self._log.warning(
                "config.reload_needs_restart profiles=%s%s",
                fitted.describe(),
                unbound,
                extra={"event": "config.reload_needs_restart"},
            )
        self._current = fitted.config
        self._log.info(
            "config.reloaded profiles=%d rules=%d",
            len(fitted.config.profiles),
            len(fitted.config.policy.rules),
            extra={"event": "config.reloaded"},
        )
        if self._on_reload is not None:
            self._on_reload(old, fitted.config)
        return True
