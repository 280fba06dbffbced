"""Logging: secrets are redacted from every record, whatever logged them."""

from __future__ import annotations

import json
import logging

import pytest

from aom_bot.logs import RedactingFilter, configure_logging, redact


@pytest.mark.parametrize(
    "leak",
    [
        "Authorization: SDK-HMAC-SHA256 Access=AKIDEXAMPLE",
        "X-Auth-Token: MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEw",
        "password=hunter2",
        "token: abc.def.ghi",
        "https://admin:s3cr3t@db.internal/aom",
        "xoxb-1234567890-abcdefghij",
        "xapp-1-A0123-456789-abcdef",
    ],
)
def test_credential_shapes_are_redacted(leak):
    """Header values, password/token assignments, URL credentials and Slack tokens vanish."""
    cleaned = redact(f"before {leak} after")
    assert "[redacted]" in cleaned
    for secret in (
        "AKIDEXAMPLE",
        "MIIEhQYJ",
        "hunter2",
        "abc.def",
        "s3cr3t",
        "1234567890-abc",
        "456789-abcdef",
    ):
        assert secret not in cleaned
    assert cleaned.startswith("before ")


def test_configured_secret_values_are_redacted_anywhere():
    """A known secret is removed even when it appears in an unexpected shape."""
    assert redact("sk is plainly Zq9-secret-Value here", ["Zq9-secret-Value"]) == (
        "sk is plainly [redacted] here"
    )


def test_filter_redacts_arguments_and_tracebacks():
    """%-style arguments and exception text pass through the same redaction."""
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "calling with %s", ("Zq9-secret",), None
    )
    try:
        raise RuntimeError("boom Zq9-secret")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter(["Zq9-secret"]).filter(record)
    assert record.getMessage() == "calling with [redacted]"
    assert record.exc_text is not None
    assert "Zq9-secret" not in record.exc_text
    assert "RuntimeError" in record.exc_text


def test_configure_logging_writes_json_to_stderr_only(capsys):
    """JSON lines go to stderr (stdout stays clean for --json output) with secrets removed."""
    configure_logging(level="INFO", fmt="json", secrets=["Zq9-secret"])
    try:
        logging.getLogger("aom_bot.test").info("hello %s", "Zq9-secret")
        captured = capsys.readouterr()
    finally:
        logging.getLogger().handlers.clear()
    assert captured.out == ""
    line = json.loads(captured.err.strip().splitlines()[-1])
    assert line["event"] == "hello [redacted]"
    assert line["level"] == "info"
    assert line["logger"] == "aom_bot.test"


@pytest.mark.parametrize("text", ["task=discovery", "disk=/dev/sda1", "risk=low"])
def test_words_ending_in_sk_are_not_taken_for_a_secret_key(text):
    """`sk=` is a secret key; `task=`, `disk=` and `risk=` are not: the log keeps them."""
    assert redact(text) == text
    assert "abcdef123456" not in redact(f"{text} sk=abcdef123456")
