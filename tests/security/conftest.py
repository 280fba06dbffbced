"""The running bot of the Slack tests, for the security tests too."""

from tests.slack.conftest import bot

__all__ = ["bot"]
