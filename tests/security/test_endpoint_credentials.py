"""A URL setting with ``user:pass@`` (issue 10, item 7): a configuration error — exit 2, one
line, the password never echoed — not exit 4 and a stack trace. With a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: the checkout under test: the process imports this aom_bot whatever is installed
ROOT = Path(__file__).resolve().parents[2]

PASSWORD = "Hunter2-Url-Pw"
BASE = {
    "CLOUD_SDK_AK": "AKEXAMPLEAKEXAMPLE00",
    "CLOUD_SDK_SK": "sk-for-the-endpoint-test",
    "AOM_PROJECT_ID": "0123456789abcdef0123456789abcdef",
    "AOM_REGION": "cn-north-4",
    "SLACK_BOT_TOKEN": "xoxb-1-endpoint-test",
    "SLACK_SIGNING_SECRET": "endpoint-test-signing",
}


@pytest.mark.parametrize("variable", ["AOM_ENDPOINT", "AOM_IAM_ENDPOINT", "SLACK_API_URL"])
@pytest.mark.parametrize(
    "command", [["show", "wf1", "ex1"], ["check"], ["run", "--mode", "http", "--port", "1"]]
)
def test_credentials_in_a_url_setting_are_a_configuration_error(
    variable: str, command: list[str], tmp_path: os.PathLike[str]
) -> None:
    """Exit 2 with one line naming the variable; no traceback, no password."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AOM_", "SLACK_", "CLOUD_"))},
        **BASE,
        "AOM_BOT_STATE_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        variable: f"https://admin:{PASSWORD}@127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-m", "aom_bot", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert variable in done.stderr
    assert "user name or password" in done.stderr
    assert PASSWORD not in output
    assert "Traceback" not in output
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
