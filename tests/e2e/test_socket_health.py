"""Socket Mode serves /healthz and /metrics on --health-port; /healthz follows the connection."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx

from tests.e2e.test_bot_process import HandClock, bot_environment, free_port, simulator
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_faults import Breakage


async def health(port: int) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"http://127.0.0.1:{port}/healthz")


async def until(port: int, status: int) -> httpx.Response:
    """Poll another process's /healthz until it answers ``status`` (bounded)."""
    async with asyncio.timeout(30):
        while True:
            try:
                response = await health(port)
                if response.status_code == status:
                    return response
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)  # the state lives in another process


async def test_socket_mode_health_follows_the_slack_connection(tmp_path: Path) -> None:
    clock = HandClock()
    async with FakeSlack() as slack:
        with simulator(clock) as (aom_env, _):
            env = bot_environment(aom_env, slack, tmp_path / "bot.sqlite3")
            del env["SLACK_SIGNING_SECRET"]
            env["SLACK_APP_TOKEN"] = slack.app_token
            port = free_port()
            log = tmp_path / "bot.log"
            with log.open("wb") as sink:
                bot = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "aom_bot", "run", "--mode", "socket",
                    "--host", "127.0.0.1", "--health-port", str(port),
                    env=env, stdout=asyncio.subprocess.DEVNULL, stderr=sink,
                )  # fmt: skip
                try:
                    up = await until(port, 200)
                    assert up.json() == {"status": "ok"}
                    async with httpx.AsyncClient() as client:
                        scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
                    assert scraped.status_code == 200
                    assert "aom_bot" in scraped.text

                    slack.break_method("apps.connections.open", Breakage.SERVER_ERROR)
                    await slack.socket_mode.close()  # Slack drops the WebSocket; no new one
                    down = await until(port, 503)
                    assert "the Slack connection is down" in down.json()["reasons"]

                    slack.heal()
                    await until(port, 200)  # reconnected: healthy again, no restart
                    assert bot.returncode is None
                    bot.send_signal(signal.SIGTERM)
                    async with asyncio.timeout(15):
                        await bot.wait()
                except BaseException:
                    print(log.read_text()[-4000:])
                    raise
                finally:
                    if bot.returncode is None:
                        bot.kill()
                        await bot.wait()
    assert bot.returncode == 0
