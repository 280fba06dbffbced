"""Secret scrubbing: built-in patterns, configured patterns, and switching it off."""

from __future__ import annotations

import pytest

from aom_bot.errors import ConfigError
from aom_bot.render.scrub import REDACTED, Scrubber, ScrubPatternError

SECRETS = [
    ("mysql -uroot -pS3cr3tPass -e 'select 1'", "S3cr3tPass"),
    ("mysqldump --password s3cr3t-pw db", "s3cr3t-pw"),
    ("mysqldump --password=s3cr3t-pw db", "s3cr3t-pw"),
    ("export DB_PASSWORD=hunter2hunter2", "hunter2hunter2"),
    ('{"password": "correct horse battery"}', "correct horse battery"),
    ("password: 'p@ss w0rd'", "p@ss w0rd"),
    ("curl -H 'Authorization: Bearer abcDEF123456789xyz' https://x", "abcDEF123456789xyz"),
    ("token bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJzdWIiOiIxIn0"),
    ("AK=HPUAQ7X3K9M2P5R8T1V4 in env", "HPUAQ7X3K9M2P5R8T1V4"),
    ("sk is Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789AbCd", "Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789AbCd"),
    ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("git clone https://deploy:ghp_tok3n@github.example/x.git", "ghp_tok3n"),
    ("api_key=0123abcd-secret-value", "0123abcd-secret-value"),
    ("X-Auth-Token: MIIabc123", "MIIabc123"),
    ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    (
        "cat id_rsa\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretkeymaterial\n"
        "-----END RSA PRIVATE KEY-----\ndone",
        "secretkeymaterial",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA cut off",
        "b3BlbnNzaC1rZXktdjEAAAA",
    ),
    ("tail of a key: Zm9vYmFyYmF6\n-----END PRIVATE KEY-----\nnext", "Zm9vYmFyYmF6"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_built_in_patterns_remove_the_secret(text: str, secret: str) -> None:
    """Each common secret shape is replaced by [redacted]."""
    out = Scrubber().scrub(text)
    assert secret not in out
    assert REDACTED in out


def test_keys_stay_readable() -> None:
    """Only the value goes, so the log still says what was redacted."""
    assert Scrubber().scrub("DB_PASSWORD=hunter2") == "DB_PASSWORD=[redacted]"
    assert Scrubber().scrub("mysql -phunter2") == "mysql -p[redacted]"


@pytest.mark.parametrize(
    "text",
    [
        "mkdir -p /opt/app",
        "find . -print0 | xargs rm",
        "line 1: cd: /opt/app/releases: Not a directory",
        "PWD=/opt/app OLDPWD=/root",
        "Filesystem      Size  Used Avail Use% Mounted on",
        "a1b2c3d4-1111-4222-8333-000000000001 192.168.0.11",
    ],
)
def test_ordinary_log_lines_are_left_alone(text: str) -> None:
    """Common harmless lines are not mangled by the built-in patterns."""
    assert Scrubber().scrub(text) == text


def test_configured_patterns_add_to_the_defaults() -> None:
    """An operator pattern applies, with a 'secret' group redacting only that part."""
    scrubber = Scrubber([r"internal-id-\d+", r"pin (?P<secret>\d{4})"])
    assert (
        scrubber.scrub("internal-id-42 pin 1234 -phunter2")
        == "[redacted] pin [redacted] -p[redacted]"
    )


def test_defaults_can_be_left_out() -> None:
    """include_defaults=False uses only the configured patterns."""
    assert Scrubber(["x+"], include_defaults=False).scrub("-phunter2 xxx") == "-phunter2 [redacted]"


def test_disabled_scrubber_passes_text_through() -> None:
    """enabled=False is the explicit opt-out."""
    assert Scrubber(enabled=False).scrub("-phunter2") == "-phunter2"


def test_invalid_pattern_is_a_config_error() -> None:
    """A broken regex fails at configuration time with the project's own error type."""
    with pytest.raises(ScrubPatternError) as info:
        Scrubber(["(unclosed"])
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
    assert "(unclosed" in str(info.value)


def test_a_secret_added_later_is_masked_from_then_on() -> None:
    """A reload that read a rotated key makes the mask hide it too, and keeps the old ones."""
    from aom_bot.render.scrub import SecretMask

    mask = SecretMask(["old-key-0123456789"])
    said = "IAM echoed new-key-9876543210 and old-key-0123456789"
    assert "new-key-9876543210" in mask.text(said)
    mask.add(["new-key-9876543210"])
    assert mask.text(said) == "IAM echoed [redacted] and [redacted]"
    assert mask.data({"error": said}) == {"error": "IAM echoed [redacted] and [redacted]"}
