"""Slack side of aom-bot: the Bolt app, its listeners, and the paced notifier."""
