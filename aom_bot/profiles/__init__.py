"""Several AOM projects and regions in one bot: profiles, channel bindings and the access policy.

>>> config = load_bot_config(settings)  # doctest: +SKIP
>>> profile = config.profile_for(channel_id, explicit=None)  # doctest: +SKIP
>>> config.policy.allows(Permission.READ, profile=profile.name, channel_id=channel_id,
...                      user_id=user_id)  # doctest: +SKIP

Pure: reads the configuration file, secret files and the environment, and nothing else.
"""

from __future__ import annotations

from aom_bot.profiles.live import LiveConfig, Reconciled, changed_credentials, reconcile
from aom_bot.profiles.loader import CONFIG_FILE, config_path, load_bot_config
from aom_bot.profiles.model import (
    ANY,
    DEFAULT_PROFILE,
    AllowRule,
    BotConfig,
    Permission,
    Policy,
    Profile,
    env_profile,
    environment_configures_aom,
)

__all__ = [
    "ANY",
    "CONFIG_FILE",
    "DEFAULT_PROFILE",
    "AllowRule",
    "BotConfig",
    "LiveConfig",
    "Permission",
    "Policy",
    "Profile",
    "Reconciled",
    "changed_credentials",
    "config_path",
    "env_profile",
    "environment_configures_aom",
    "load_bot_config",
    "reconcile",
]
