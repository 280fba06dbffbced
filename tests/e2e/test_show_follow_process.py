"""`aom-bot show --follow` as a real process: what it says while it waits, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_show_follow_with_exit_code_130() -> None:
    """The live view says how often it refreshes and how to stop; SIGINT exits 130, no trace."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AOM_", "CLOUD_SDK_"))},
        "FORCE_COLOR": "1",  # a live view, as in a terminal
        "COLUMNS": "80",
        "LINES": "24",
        "AOM_BOT_POLL_MIN_SECONDS": "30",
        "AOM_BOT_POLL_MAX_SECONDS": "30",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "aom_bot", "show", "--simulator", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # as from a terminal: a test run started in the background (`cmd &` in a script) ignores
        # SIGINT, and its children would inherit that, as a shell's background jobs do
        preexec_fn=_sigint_as_in_a_terminal,
    )
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Ctrl-C to stop" not in seen and time.monotonic() < deadline:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
        assert b"refreshing every 30s \xc2\xb7 Ctrl-C to stop" in seen, seen[-2000:]
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()  # closes the pipes (left open, a later test trips on them)
    assert process.returncode == 130, err
    assert b"Traceback" not in err
    assert b"interrupted" in err
