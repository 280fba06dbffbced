"""Following executions: keep a Slack card current until the run ends, then tell the channel.

::

    from aom_bot.follow.engine import EngineOptions, FollowEngine
    engine = FollowEngine(accounts=accounts, store=store, notifier=notifier, clock=clock,
                          options=EngineOptions(owner="bot-1", ...))
    await engine.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id="C1", user_id="U1"))

``policy`` holds the pure polling policy shared with ``aom-bot show --follow``.
"""
