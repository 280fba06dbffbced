"""The compose demo's wiring with real processes: the simulator as compose starts it, then the
CLI with a replica's environment (the simulator's address moved to 127.0.0.1, no Docker here)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from tests.deploy.test_compose import _argv, _bots, _services


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, "the simulator exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the simulator did not listen in time")


def _replace(argv: list[str], flag: str, value: str) -> list[str]:
    at = argv.index(flag)
    return [*argv[: at + 1], value, *argv[at + 2 :]]


def test_a_replica_environment_reaches_the_compose_simulator() -> None:
    """With the compose file's credentials and project, `aom-bot workflows` lists the demo's."""
    port = _free_port()
    simulator = _argv(_services()["simulator"])
    simulator = _replace(_replace(simulator, "--host", "127.0.0.1"), "--port", str(port))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AOM_", "CLOUD_SDK_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "aom_bot", *simulator[1:]],
        env=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
        bot_env = dict(next(iter(_bots().values()))["environment"])
        aom = {k: v for k, v in bot_env.items() if k.startswith(("AOM_", "CLOUD_SDK_"))}
        for key in ("AOM_ENDPOINT", "AOM_IAM_ENDPOINT"):
            aom[key] = aom[key].replace("simulator:", "127.0.0.1:").replace(":8642", f":{port}")
        aom.pop("AOM_BOT_DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "aom_bot", "workflows", "--json"],
            env={**base, **aom},
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert result.returncode == 0, result.stderr.decode()
    names = {w["name"] for w in json.loads(result.stdout)}
    assert "canary-release" in names
