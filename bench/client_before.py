"""Child process of ``bench/client.py``: the AomClient of another revision, measured the same way.

``bench/client.py --before REV`` extracts that revision's ``aom_bot`` package (``git archive``)
and runs this script with it first on ``sys.path``, so "before" is the old code itself (its
request side, signing and parsing), not an imitation. Prints one JSON line:
``{"cpu_s": …, "wall_s": …, "requests": …}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", required=True, help="folder holding the old aom_bot")
    parser.add_argument("--target", required=True, help="bench.client.Target as JSON")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--no-parsing", action="store_true")
    parser.add_argument("--gc-tuned", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, args.package)
    import aom_bot

    assert Path(aom_bot.__file__).is_relative_to(args.package), aom_bot.__file__
    if args.gc_tuned:
        from aom_bot.gc_tuning import tune_gc

        tune_gc()
    target = json.loads(args.target)
    cpu, wall = asyncio.run(measure(target, args.requests, args.concurrency, args.no_parsing))
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "requests": args.requests}))


async def measure(
    target: dict[str, str], n: int, concurrency: int, no_parsing: bool
) -> tuple[float, float]:
    from aom_bot.aom.auth import AkSkAuth
    from aom_bot.aom.client import AomClient, build_http_client

    auth = AkSkAuth(ak=target["ak"], sk=target["sk"], project_id=target["project_id"])
    http = build_http_client(base_url=target["base_url"], auth=auth)
    wf, ex = target["workflow_id"], target["execution_id"]
    async with AomClient(http, project_id=target["project_id"]) as aom:

        async def fetch() -> None:
            if no_parsing:  # the request side alone, as bench/client.py's _NoParseClient
                url = aom._url("workflow", wf, "executions", ex, "status")
                await aom._send("GET", url, action="read")
                return
            detail = await aom.get_execution(wf, ex)
            assert detail.execution_id == ex

        await asyncio.gather(*(fetch() for _ in range(concurrency)))  # open the pool
        remaining = n

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await fetch()

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.process_time() - cpu, time.perf_counter() - wall


if __name__ == "__main__":
    main()
