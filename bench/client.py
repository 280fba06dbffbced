"""Benchmark: client-side CPU per request, aom-bot's AomClient vs Huawei's official SDK.

The simulator is served by uvicorn in a *subprocess* on 127.0.0.1, so its CPU is not counted.
This process then fetches the same execution detail N times with each client, and reports its own
CPU seconds per 1,000 requests (``time.process_time``: all threads, signing and parsing
included) and requests per second:

- ``aom-bot (aiohttp)``: AomClient over httpx with the httpx-aiohttp transport (the default),
  ``--concurrency`` coroutines on one event loop;
- ``aom-bot (httpx default)``: the same client over httpx's own transport, for comparison;
- ``official SDK``: ``huaweicloudsdkaom.v1.AomClient`` with ``BasicCredentials``, driven by a
  ``ThreadPoolExecutor`` of ``--concurrency`` threads, as its users do.

What each side parses (so the comparison is fair, if anything in the SDK's favour): the SDK runs
``json.loads`` (``parse_float=Decimal``) on the body and builds its own models for the execution and
each node (``ExecutionResultList``), but a node's ``output`` is typed ``object`` and stays raw
dicts, so it never models hosts; aom-bot builds the full tolerant model down to every ``Host``
(the ``parse:`` lines), which is what its callers use. The ``floor:`` lines decode the same body
with the fastest JSON decoders installed and build nothing; ``no parsing`` is the request side
alone (signing, httpx, aiohttp, reading the body); ``no host reuse`` builds every host anew on
every request, as on the first poll of an execution (the plain line reuses the hosts of the
previous poll, as a follow does); ``a few hosts changed`` parses bodies that differ from the
previous one in a few hosts' logs, as a running execution's polls do; ``unchanged: digest only``
is a follow's poll of a body it has seen (``get_execution_if_changed``: fetched and digested, not
parsed). ``before (REV)`` is the
client of another revision (by default the start of this round), run in a child process with that
revision's own package (``bench/client_before.py``), so before and after are measured in one run.

Run: ``.venv/bin/python bench/client.py [--requests 1000] [--concurrency 50] [--rounds 3]``
(``--scenario mass-failure --requests 300`` for a 208 KB body with 400 hosts; ``--before REV``)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import io
import json
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import aiohttp
import httpx

from aom_bot.aom.auth import AkSkAuth
from aom_bot.aom.client import DEFAULT_LIMITS, AomClient, build_http_client
from aom_bot.aom.fastparse import HostCache, execution_from_json
from aom_bot.aom.ids import validate_id
from aom_bot.aom.models import ExecutionDetail
from aom_bot.gc_tuning import tune_gc

#: the revision this round of issue 15 started from: "before" by default
ROUND_START = "6c276f3"
BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str
    project_id: str
    workflow_id: str
    execution_id: str
    ak: str
    sk: str
    body_bytes: int


@dataclass(frozen=True, slots=True)
class Measure:
    cpu_s: float
    wall_s: float
    requests: int

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / self.requests * 1000

    @property
    def per_second(self) -> float:
        return self.requests / self.wall_s


# --- the server subprocess -------------------------------------------------------------------


def serve(seed: int, scenario: str) -> None:
    """Child process: build the demo world, print where it is, serve until killed."""
    import uvicorn

    from aom_bot.simulator import build_demo, create_simulator_app

    demo = build_demo(scenario, seed=seed, clock=time.time)
    world = demo.world
    workflow_id = world.workflow_ids()[0]
    execution_id = world.execution_ids(workflow_id)[-1]  # the past run: finished and stable
    body = world.execution_body(workflow_id, execution_id)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    info = {
        "base_url": f"http://127.0.0.1:{port}",
        "project_id": world.project_id,
        "workflow_id": workflow_id,
        "execution_id": execution_id,
        "ak": demo.credentials.ak,
        "sk": demo.credentials.sk,
        "body_bytes": len(body),
    }
    print(json.dumps(info), flush=True)
    app = create_simulator_app(world, credentials=demo.credentials)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def start_server(seed: int, scenario: str) -> tuple[subprocess.Popen[str], Target]:
    cmd = [sys.executable, __file__, "--serve", "--seed", str(seed), "--scenario", scenario]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise SystemExit("the simulator subprocess did not start")
    target = Target(**json.loads(line))
    deadline = time.monotonic() + 15
    while True:  # wait until uvicorn accepts connections
        try:
            with socket.create_connection(("127.0.0.1", int(target.base_url.rsplit(":", 1)[1])), 1):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("the simulator did not accept connections") from None
            time.sleep(0.05)
    return proc, target


# --- our client ------------------------------------------------------------------------------


class _UnchangedClient(AomClient):
    """A follow's poll of a body that did not change: fetched and digested, not parsed."""

    _last: tuple[bytes, ExecutionDetail] | None = None

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        kept = self._last
        digest, detail = await self.get_execution_if_changed(
            workflow_id, execution_id, kept[0] if kept else None
        )
        if detail is None:
            assert kept is not None
            return kept[1]
        self._last = digest, detail
        return detail


class _NoParseClient(AomClient):
    """Request, signing and transport only: the body is read and dropped (the HTTP stack's cost)."""

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        wf, ex = validate_id("workflow ID", workflow_id), validate_id("execution ID", execution_id)
        url = self._url("workflow", wf, "executions", ex, "status")
        await self._send("GET", url, action="read")
        return ExecutionDetail(execution_id=ex)


async def driven(fetch: Callable[[], Awaitable[None]], n: int, concurrency: int) -> Measure:
    """CPU and wall time of ``n`` calls of ``fetch``, ``concurrency`` at a time, after one round
    that opens the connection pool. (``client_before.py`` keeps its own copy: it runs with
    another revision's package first on ``sys.path`` and must not import this module.)"""
    await asyncio.gather(*(fetch() for _ in range(concurrency)))  # open the pool
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fetch()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Measure(time.process_time() - cpu, time.perf_counter() - wall, n)


async def ours(
    target: Target,
    n: int,
    concurrency: int,
    transport: httpx.AsyncBaseTransport | None,
    kind: type[AomClient] = AomClient,
    reuse_hosts: bool = True,
) -> Measure:
    auth = AkSkAuth(ak=target.ak, sk=target.sk, project_id=target.project_id)
    http = build_http_client(base_url=target.base_url, auth=auth, transport=transport)
    async with kind(http, project_id=target.project_id) as aom:  # production defaults
        if not reuse_hosts:
            aom._hosts = HostCache(max_host_bytes=0)  # keeps nothing: every host built anew

        async def fetch() -> None:
            detail = await aom.get_execution(target.workflow_id, target.execution_id)
            assert detail.execution_id == target.execution_id

        return await driven(fetch, n, concurrency)


async def aiohttp_alone(target: Target, n: int, concurrency: int) -> Measure:
    """The floor under our HTTP stack: each request signed as ours are (an ``httpx.Request``
    built and signed by ``AkSkAuth``), then sent and read by aiohttp itself — no httpx client,
    transport adapter or ``httpx.Response``."""
    auth = AkSkAuth(ak=target.ak, sk=target.sk, project_id=target.project_id)
    url = httpx.URL(
        f"{target.base_url}/v1/{target.project_id}/cms/workflow/{target.workflow_id}"
        f"/executions/{target.execution_id}/status"
    )
    headers = [(b"Accept", b"application/json"), (b"Content-Type", b"application/json")]
    connector = aiohttp.TCPConnector(limit=DEFAULT_LIMITS.max_connections or 100)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def fetch() -> None:
            request = httpx.Request("GET", url, headers=headers)
            auth.sign(request)
            async with session.get(str(request.url), headers=request.headers.items()) as reply:
                body = await reply.read()
            assert reply.status == 200
            assert body

        return await driven(fetch, n, concurrency)


# --- the official SDK ------------------------------------------------------------------------


def official(target: Target, n: int, concurrency: int) -> Measure:
    from huaweicloudsdkaom.v1 import AomClient as SdkClient
    from huaweicloudsdkaom.v1 import SearchWorkflowExecutionDetailRequest
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig

    config = HttpConfig.get_default_config()
    config.timeout = (5, 60)
    config.pool_connections = concurrency
    config.pool_maxsize = concurrency
    client = (
        SdkClient.new_builder()
        .with_credentials(BasicCredentials(target.ak, target.sk, target.project_id))
        .with_endpoints([target.base_url])
        .with_http_config(config)
        .build()
    )

    def fetch(_: int) -> None:
        request = SearchWorkflowExecutionDetailRequest(
            workflow_id=target.workflow_id, execution_id=target.execution_id
        )
        response = client.search_workflow_execution_detail(request)
        assert response.execution_id == target.execution_id

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(fetch, range(concurrency)))  # open the pool
        cpu, wall = time.process_time(), time.perf_counter()
        list(pool.map(fetch, range(n)))
        return Measure(time.process_time() - cpu, time.perf_counter() - wall, n)


# --- another revision -------------------------------------------------------------------------


def extract(revision: str) -> Path:
    """That revision's ``aom_bot`` package, in a temporary folder (``git archive``)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "aom_bot"],
        capture_output=True,
        check=True,
        cwd=BENCH.parent,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="aom-bot-before-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def before(
    target: Target, n: int, concurrency: int, package: Path, *, no_parsing: bool, gc_tuned: bool
) -> Measure:
    """The other revision's AomClient, in a child process (its CPU measured there)."""
    cmd = [
        sys.executable, str(BENCH / "client_before.py"), "--package", str(package),
        "--target", json.dumps(dataclasses.asdict(target)), "--requests", str(n),
        "--concurrency", str(concurrency),
        *(["--no-parsing"] if no_parsing else []), *(["--gc-tuned"] if gc_tuned else []),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return Measure(**json.loads(out.strip().splitlines()[-1]))


def old_module(package: Path, name: str) -> ModuleType:
    """One module of the other revision, loaded beside the current package (its imports are the
    current package's)."""
    spec = importlib.util.spec_from_file_location(
        f"before_{name}", package / "aom_bot" / "aom" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def changing_bodies(body: bytes, variants: int = 8, per_poll: int = 4) -> list[bytes]:
    """The body as successive polls of a running execution see it: each differs from the
    previous one in a few hosts (``per_poll`` logs grow), the rest byte for byte the same."""
    data = json.loads(body)
    hosts = [h for node in data.get("execution_result_list", []) for bucket in
             (node.get("output") or {}).values() if isinstance(bucket, list) for h in bucket]  # fmt: skip
    bodies = []
    for poll in range(variants):
        for host in hosts[poll * per_poll : (poll + 1) * per_poll]:
            host["log"] = f"{host.get('log', '')}\npoll {poll}: still working"
        bodies.append(json.dumps(data).encode())
    return bodies


def fetch_body(target: Target) -> bytes:
    return httpx.get(
        f"{target.base_url}/v1/{target.project_id}/cms/workflow/{target.workflow_id}"
        f"/executions/{target.execution_id}/status",
        auth=AkSkAuth(ak=target.ak, sk=target.sk, project_id=target.project_id),
        headers={"Content-Type": "application/json"},
    ).content


def cpu_of(work: Callable[[], object], n: int) -> Measure:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        work()
    return Measure(time.process_time() - cpu, time.perf_counter() - wall, n)


def decoders() -> dict[str, Callable[[bytes], object]]:
    """Raw JSON decoders to measure the floor with: the fastest installed ones, and json."""
    found: dict[str, Callable[[bytes], object]] = {"json.loads": json.loads}
    try:
        import msgspec

        found["msgspec"] = msgspec.json.Decoder().decode
    except ImportError:
        pass
    try:
        import orjson  # not a dependency: measured when present

        found["orjson"] = orjson.loads
    except ImportError:
        pass
    return found


# --- driver ----------------------------------------------------------------------------------


def median(runs: list[Measure]) -> Measure:
    cpu = statistics.median(m.cpu_s for m in runs)
    wall = statistics.median(m.wall_s for m in runs)
    return Measure(cpu, wall, runs[0].requests)


def variants(args: argparse.Namespace, target: Target) -> dict[str, Callable[[], Measure]]:
    """What to measure, by the name printed: whole requests first, then parsing alone."""
    n, c = args.requests, args.concurrency
    body = fetch_body(target)
    package = extract(args.before)
    old = old_module(package, "fastparse")
    cache, old_cache, changing_cache = HostCache(), old.HostCache(), HostCache()
    changing = changing_bodies(body)
    polls = iter(range(10**9))
    rev = args.before
    found: dict[str, Callable[[], Measure]] = {
        "aom-bot (aiohttp)": lambda: asyncio.run(ours(target, n, c, None)),
        "aom-bot (aiohttp, no host reuse)": lambda: asyncio.run(
            ours(target, n, c, None, reuse_hosts=False)
        ),
        "aom-bot (aiohttp, no parsing)": lambda: asyncio.run(
            ours(target, n, c, None, _NoParseClient)
        ),
        "aom-bot (aiohttp, unchanged: digest only)": lambda: asyncio.run(
            ours(target, n, c, None, _UnchangedClient)
        ),
        f"aom-bot before ({rev})": lambda: before(
            target, n, c, package, no_parsing=False, gc_tuned=args.gc_tuned
        ),
        f"aom-bot before ({rev}), no parsing": lambda: before(
            target, n, c, package, no_parsing=True, gc_tuned=args.gc_tuned
        ),
    }
    found["floor: aiohttp alone, signed (no httpx)"] = lambda: asyncio.run(
        aiohttp_alone(target, n, c)
    )
    if args.httpx_default:
        found["aom-bot (httpx default)"] = lambda: asyncio.run(
            ours(target, n, c, httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS))
        )
    found["official SDK (threads)"] = lambda: official(target, n, c)
    found |= {
        "  parse: hosts reused": lambda: cpu_of(lambda: execution_from_json(body, cache), n),
        "  parse: a few hosts changed": lambda: cpu_of(
            lambda: execution_from_json(changing[next(polls) % len(changing)], changing_cache), n
        ),
        "  parse: first sight": lambda: cpu_of(lambda: execution_from_json(body), n),
        f"  parse before ({rev}): hosts reused": lambda: cpu_of(
            lambda: old.execution_from_json(body, old_cache), n
        ),
        f"  parse before ({rev}): first sight": lambda: cpu_of(
            lambda: old.execution_from_json(body), n
        ),
        "  parse: pydantic models": lambda: cpu_of(
            lambda: ExecutionDetail.model_validate_json(body), n
        ),
        **{
            f"  floor: {name}": (lambda d=decode: cpu_of(lambda: d(body), n))
            for name, decode in decoders().items()
        },
    }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs each")
    parser.add_argument("--scenario", default="few-failures", help="simulator scenario to fetch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--gc-tuned", action="store_true", help="tune the GC as the bot process does (gc_tuning)"
    )
    parser.add_argument("--before", default=ROUND_START, help="revision to compare with")
    parser.add_argument(
        "--httpx-default", action="store_true", help="also httpx's own transport (slow)"
    )
    args = parser.parse_args()
    if args.gc_tuned:
        tune_gc()
    if args.serve:
        serve(args.seed, args.scenario)
        return

    proc, target = start_server(args.seed, args.scenario)
    try:
        measured = variants(args, target)
        results: dict[str, list[Measure]] = {name: [] for name in measured}
        for _ in range(args.rounds):  # interleaved, so drift affects every variant alike
            for name, run in measured.items():
                results[name].append(run())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    report(args, target, results)


def report(args: argparse.Namespace, target: Target, results: dict[str, list[Measure]]) -> None:
    print(
        f"{args.requests} x GET execution status ({args.scenario}, {target.body_bytes:,} B body), "
        f"concurrency {args.concurrency}, median of {args.rounds} rounds (min-max of the ratio); "
        f"client process CPU only; GC {'tuned (gc_tuning)' if args.gc_tuned else 'default'}"
    )
    sdk_runs = results["official SDK (threads)"]
    sdk = median(sdk_runs)
    print(f"{'client':40} {'req/s':>8} {'CPU s/1000':>11} {'vs SDK CPU':>11} {'spread':>13}")
    for name, runs in results.items():
        m = median(runs)
        rate = f"{m.per_second:8.0f}" if not name.startswith(" ") else f"{'-':>8}"
        ratio = m.cpu_per_1000 / sdk.cpu_per_1000
        # the spread pairs each round with the SDK's run of the same round
        ratios = [r.cpu_per_1000 / s.cpu_per_1000 for r, s in zip(runs, sdk_runs, strict=True)]
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}x"
        print(f"{name:40} {rate} {m.cpu_per_1000:11.3f} {ratio:10.2f}x {spread:>13}")


if __name__ == "__main__":
    main()
