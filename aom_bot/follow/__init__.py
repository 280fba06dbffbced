"""Following executions: keep a Slack card current until the run ends, then tell the channel.

::

    from aom_bot.follow.engine import FollowEngine
    engine = FollowEngine(source=aom, store=store, notifier=notifier, clock=clock, ...)
    await engine.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id="C1", user_id="U1"))

``policy`` holds the pure polling policy shared with ``aom-bot show --follow``.
"""
