"""Render-time benchmark: how long the execution card takes for 10 … 10,000 hosts.

Run ``.venv/bin/python bench/render.py`` (``--runs N`` to change the sample size). Each size is a
finished run with 5 % failed hosts spread over six error signatures, a few long (~8 KB) logs
with secrets to scrub, and names/IPs/AZs like the simulator's. The card, the analysis alone
and the CSV report are timed; next to them, parsing the same execution's JSON body (the client
does it once per poll) with the fast path (``aom.fastparse``, first sight: no host reused) and
with hosts reused from the previous poll (as a follow parses) and with the pydantic models; and
the card's time as a multiple of the first-sight parse.
The first render of each size is a warm-up (regexes, and the analysis' memories of errors and
names, as for a followed card, which is rendered again on each change); see
``bench/render_before_after.py`` for first renders. The goal is under 5 ms for the card of 2,000 hosts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aom_bot.aom.fastparse import HostCache, execution_from_json
from aom_bot.aom.models import ExecutionDetail
from aom_bot.render import execution_message
from aom_bot.render.analysis import analyse
from aom_bot.render.report import report_csv

SIZES = (10, 100, 2000, 10_000)
NOW = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)
ERRORS = (
    "Error: Cannot retrieve repository metadata (repomd.xml) for repository: updates",
    "cp: cannot create regular file '/data/backup/{i}.tar.gz': No space left on device",
    "ssh: connect to host 10.0.{a}.{b} port 22: Connection timed out",
    "line 1: cd: /opt/app/releases: Not a directory",
    "curl: (7) Failed to connect to 10.1.{a}.{b} port 8080: Connection refused",
    "Get-Service : Cannot find any service with service name 'W3SVC'.",
)


def build(hosts: int) -> ExecutionDetail:
    """A finished execution of ``hosts`` hosts, 5 % failed (at least one)."""
    return ExecutionDetail.model_validate(json.loads(body(hosts)))


def body(hosts: int) -> bytes:
    """The JSON body AOM would send for :func:`build`'s execution."""
    failed = max(1, hosts // 20)
    fail: list[dict[str, Any]] = []
    success: list[dict[str, Any]] = []
    for i in range(hosts):
        host: dict[str, Any] = {
            "id": f"a{i:07d}-1111-4222-8333-000000000000",
            "name": f"web-{i:05d}",
            "ip": f"10.20.{i // 250}.{i % 250 + 1}",
            "availability_zone": ("cn-north-4a", "cn-north-4b", "cn-north-4c")[i % 3],
            "code": "0",
            "error_msg": "",
        }
        if i < failed:
            error = ERRORS[i % len(ERRORS)].format(i=i, a=i % 250, b=i % 7)
            long = i % 50 == 0
            body = "".join(
                f"step {k}: DB_PASSWORD=s3cret-{k} ok\n" for k in range(250 if long else 5)
            )
            host.update(log=body + error, exit_code=str(1 + i % 3))
            fail.append(host)
        else:
            host.update(log="[patch] start\n[patch] done", exit_code="0")
            success.append(host)
    raw = {
        "workflow_id": "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b",
        "execution_id": "e3000000-0000-4000-8000-000000000003",
        "status": "fail",
        "begin_time": 1710490200000,
        "end_time": 1710490295210,
        "execution_result_list": [
            {
                "node_id": "run-script",
                "status": "fail",
                "output": {
                    "success": success,
                    "fail": fail,
                    "in_execution": [],
                    "not_performed": [],
                },
            }
        ],
    }
    return json.dumps(raw).encode()


def median_ms(work: Callable[[], object], runs: int) -> float:
    work()  # warm-up: regex compilation, caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs per size (median)")
    args = parser.parse_args()
    print(
        f"{'hosts':>7} {'card ms':>9} {'analysis ms':>12} {'csv report ms':>14}"
        f" {'parse ms':>9} {'reused ms':>10} {'pydantic ms':>12} {'card/parse':>11}"
        f"  (median of {args.runs})"
    )
    for size in SIZES:
        raw = body(size)
        detail = execution_from_json(raw)
        runs = max(5, args.runs // (10 if size >= 10_000 else 1))
        card = median_ms(lambda d=detail: execution_message(d, now=NOW), runs)
        only = median_ms(lambda d=detail: analyse(d), runs)
        csv = median_ms(lambda d=detail: report_csv(d), max(3, runs // 5))
        parse = median_ms(lambda r=raw: execution_from_json(r), runs)
        cache = HostCache()
        reused = median_ms(lambda r=raw, c=cache: execution_from_json(r, c), runs)
        slow = median_ms(lambda r=raw: ExecutionDetail.model_validate_json(r), max(3, runs // 5))
        print(
            f"{size:>7} {card:>9.2f} {only:>12.2f} {csv:>14.2f}"
            f" {parse:>9.2f} {reused:>10.2f} {slow:>12.2f} {card / parse:>10.2f}x"
        )


if __name__ == "__main__":
    main()
