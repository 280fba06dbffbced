"""Script logs and error signatures the simulated hosts print.

Kept apart from the scenarios so the hostile texts (CRLF, emoji, Slack markup, secret-looking
strings) are easy to find and reuse in tests. Everything is deterministic: variation comes from the
``random.Random`` the caller passes in, seeded by the world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "ERROR_SIGNATURES",
    "HOSTILE_LOGS",
    "ErrorSignature",
    "agent_tmp_path",
    "long_success_log",
    "success_log",
    "yum_failure_log",
]


@dataclass(frozen=True, slots=True)
class ErrorSignature:
    """One way a host fails; ``log`` may contain ``{tmp}``, ``{ip}`` and ``{n}`` placeholders."""

    key: str
    log: str
    exit_code: str
    code: str = "0"
    error_msg: str = ""
    agent_offline: bool = False

    def render_log(self, rng: random.Random, ip: str) -> str:
        """The log text for one host: same shape for every host, details vary."""
        return self.log.format(tmp=agent_tmp_path(rng), ip=ip, n=rng.randint(2, 99))


def agent_tmp_path(rng: random.Random) -> str:
    """The UniAgent temp-file path AOM puts in front of script errors."""
    stamp = rng.randint(1_700_000_000_000_000, 1_799_999_999_999_999)
    return f"/usr/local/uniagentd/tmp/tmp_{stamp}_{rng.getrandbits(64):016x}"


ERROR_SIGNATURES: dict[str, ErrorSignature] = {
    s.key: s
    for s in (
        ErrorSignature(
            key="not-a-directory",
            log="{tmp}: >-\n  line 1: cd: /opt/app/releases: Not a directory",
            exit_code="1",
        ),
        ErrorSignature(
            key="repo-unreachable",
            log=(
                "+ yum -y update openssl\nLoaded plugins: fastestmirror\n"
                "http://mirrors.internal/centos/7/updates/x86_64/repodata/repomd.xml: [Errno 14] "
                'curl#7 - "Failed to connect to mirrors.internal port 80: Connection refused"\n'
                "Error: Cannot retrieve repository metadata (repomd.xml) for repository: updates"
            ),
            exit_code="1",
        ),
        ErrorSignature(
            key="disk-full",
            log=(
                "/data/app/启动脚本.sh: 第 {n} 行: 错误：磁盘空间不足 🔥\n"
                "cp: 写入 '/data/backup/2024-03-15.tar.gz' 出错: No space left on device\n"
                "使用率: /data 100% ✗"
            ),
            exit_code="28",
        ),
        ErrorSignature(
            key="timeout",
            log="{tmp}: >-\n  script did not finish within 300 s and was killed (host {ip})",
            exit_code="124",
            code="1",
            error_msg="execute script timeout",
        ),
        ErrorSignature(
            key="permission-denied",
            log="{tmp}: line {n}: /etc/ssl/openssl.cnf: Permission denied",
            exit_code="126",
        ),
        ErrorSignature(
            key="agent-offline",
            log="",
            exit_code="",
            code="1",
            error_msg="agent is offline",
            agent_offline=True,
        ),
        ErrorSignature(
            key="powershell-service",
            log=(
                "Get-Service : Cannot find any service with service name 'W3SVC'.\r\n"
                "At C:\\uniagent\\tmp\\run.ps1:3 char:1\r\n"
                "+ Get-Service -Name W3SVC | Restart-Service\r\n"
                "    + CategoryInfo          : ObjectNotFound: (W3SVC:String) [Get-Service], "
                "ServiceCommandException"
            ),
            exit_code="1",
        ),
    )
}


def success_log(rng: random.Random, os_type: str) -> str:
    """A short, ordinary success log."""
    if os_type == "Windows":
        return f"Status   Name   DisplayName\r\n------   ----   -----------\r\nRunning  W3SVC  World Wide Web Publishing Service\r\nrestarted in {rng.randint(1, 9)}.{rng.randint(0, 9)}s"
    freed = rng.randint(10, 900)
    return f"rotated {rng.randint(1, 9)} files\nfreed {freed}M in /var/log\ndone"


def yum_failure_log(size: int = 4000) -> str:
    """A multi-line yum failure log of at least ``size`` bytes (F3's web-03 shape)."""
    head = (
        "+ set -euo pipefail\n+ echo '[patch] start'\n[patch] start\n+ yum -y update openssl nginx\n"
        "Loaded plugins: fastestmirror, langpacks\nResolving Dependencies\n"
        "--> Running transaction check\n"
    )
    tail = (
        "--> Finished Dependency Resolution\nError: Package: nginx-1.20.1-10.el7.x86_64 (epel)\n"
        "           Requires: libcrypto.so.1.1(OPENSSL_1_1_1)(64bit)\n"
        " You could try using --skip-broken to work around the problem\n"
        "+ echo '[patch] yum failed' >&2\n[patch] yum failed"
    )
    lines: list[str] = []
    i = 1
    while len(head) + len(tail) + sum(len(x) + 1 for x in lines) < size:
        lines.append(
            f"---> Package lib{i:02d}-common.x86_64 0:1.{i}.2-{i % 7}.el7 will be updated   [{i:03d}]"
        )
        i += 1
    return head + "\n".join(lines) + "\n" + tail


def long_success_log(lines: int = 500) -> str:
    """A long multi-line success log (tens of KB) with a non-ASCII line now and then."""
    out = []
    for i in range(1, lines + 1):
        if i % 97 == 0:
            out.append(f"[{i:04d}] 检查完成 ✓ — résumé naïve façade")
        else:
            out.append(
                f"[{i:04d}] checking /srv/app/shard-{i:04d}/index.db ... ok ({i * 7 % 1000} ms)"
            )
    return "\n".join(out)


#: hand-written hostile logs: each is a realistic place where a renderer or redactor can go wrong
HOSTILE_LOGS: dict[str, str] = {
    "yum-4k": yum_failure_log(4000),
    "crlf-windows": ERROR_SIGNATURES["powershell-service"].log
    + "\r\n    + FullyQualifiedErrorId : NoServiceFoundForGivenName\r\n",
    "emoji-cjk": (
        "部署失败 😱🔥 — 服务无法启动\n错误代码：E1024（配置文件缺失）\n"
        "日本語のログ：設定ファイルが見つかりません 🚫\n한국어: 설정 파일을 찾을 수 없습니다\n"
        "family emoji: 👨‍👩‍👧‍👦, flag: 🇨🇳, zero-width joiner test done"
    ),
    "slack-markup": (
        "```\nrm -rf /tmp/build\n```\n"
        "<!channel> deploy broke, ping <@U123> or <!here>\n"
        "see <https://evil.example|click here to fix> *now* _please_ ~really~\n"
        'html: <b>bold</b> &amp; & < > "quotes" `tick`'
    ),
    "secrets": (
        "+ export DB_PASSWORD=hunter2\n"
        "+ mysql -u root --host 10.0.0.5 password=hunter2 -e 'select 1'\n"
        "ERROR 1045 (28000): Access denied for user 'root'@'10.0.0.7' (using password: YES)\n"
        "debug: AK=HPUA7QXZ2M4KD9WTR3NB SK=q8ZrT4mN0vXy2LpWc6Hs1JdKf9Ub3EaRi5Og7QtV\n"
        "debug: token=MIIDnQYJKoZIhvcNAQcCoIIDjjCCA4oCAQExDTALBglghkgBZQMEAgEwggHgBgkqhkiG"
    ),
    "ansi-and-tabs": "\x1b[31mERROR\x1b[0m\tunit nginx.service failed\n\x1b[33mWARN\x1b[0m\tretrying",
    "long-multiline": long_success_log(500),
}
