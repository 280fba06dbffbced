"""The composition root: Settings in, wired clients and resources out.

Only this package's edges (the CLI, :mod:`aom_bot.console`, :mod:`aom_bot.bot`) read
:class:`~aom_bot.config.Settings`; everything built here takes its collaborators as arguments.
"""

from __future__ import annotations

import errno
import shlex
import socket
import sys
from typing import TYPE_CHECKING

import httpx

from aom_bot.aom.auth import AkSkAuth, TokenAuth
from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.aom.endpoints import iam_endpoint
from aom_bot.aom.limiter import RequestLimiter
from aom_bot.aom.reachability import Reachability
from aom_bot.aom.tokens import AgencyIdentity, IamTokenProvider, PasswordIdentity, StaticToken
from aom_bot.config import (
    AkSkCredentials,
    IamAgencyCredentials,
    IamPasswordCredentials,
    Settings,
)
from aom_bot.config import StaticTokenCredentials as StaticTokenSetting
from aom_bot.errors import ConfigError
from aom_bot.profiles import DEFAULT_PROFILE, Profile, env_profile
from aom_bot.render.scrub import Scrubber

if TYPE_CHECKING:
    from datetime import datetime

    from aom_bot.action_records import AuditEntry
    from aom_bot.simulator import Demo

__all__ = [
    "build_aom_client",
    "build_auth",
    "build_limiter",
    "build_profile_client",
    "build_scrubber",
    "database_url",
    "in_process_simulator",
    "migrate_store",
    "read_audit",
    "rotate_credentials",
    "serve_simulator",
    "simulator_settings",
]

#: seconds to open a TCP (and TLS) connection to AOM or IAM: a black hole fails fast
CONNECT_TIMEOUT = 5.0
#: the base URL the in-process simulator answers on (never resolved: ASGITransport)
SIMULATOR_URL = "http://aom.simulator.local"
#: the scenario `show --simulator` picks when no IDs are given
DEFAULT_DEMO_SCENARIO = "few-failures"


def build_scrubber(settings: Settings, *, extra_secrets: tuple[str, ...] = ()) -> Scrubber:
    """The secret scrubber for everything shown from AOM, from AOM_BOT_SCRUB_* settings
    (``extra_secrets``: the profiles' own, read from their files and variables)."""
    return Scrubber(
        settings.aom_bot_scrub_patterns or None,
        enabled=settings.aom_bot_scrub_secrets,
        secrets=(*settings.secret_values(), *extra_secrets),
    )


def build_aom_client(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    limiter: RequestLimiter | None = None,
    reachability: Reachability | None = None,
) -> AomClient:
    """An :class:`AomClient` for the environment's profile (AOM_*, CLOUD_SDK_*), authenticated
    the one way the settings describe; see :func:`build_profile_client`."""
    return build_profile_client(
        env_profile(settings),
        settings,
        transport=transport,
        retry=retry,
        limiter=limiter,
        reachability=reachability,
    )


def build_profile_client(
    profile: Profile,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    limiter: RequestLimiter | None = None,
    reachability: Reachability | None = None,
) -> AomClient:
    """An :class:`AomClient` for one profile: its endpoint, project and credentials; timeouts
    and pacing from the settings.

    Clients of one AOM profile should share ``limiter`` (AOM_MAX_REQUESTS_PER_SECOND is per
    profile); without one, the client gets its own. So should ``reachability``, which
    ``/healthz`` reads.
    """
    timeout = _timeout(settings)
    auth = build_auth(profile, transport=transport, timeout=timeout)
    http = build_http_client(
        base_url=profile.endpoint, auth=auth, transport=transport, timeout=timeout
    )
    limiter = limiter or build_limiter(settings)
    return AomClient(
        http,
        project_id=profile.project_id,
        retry=retry,
        limiter=limiter,
        reachability=reachability,
    )


def rotate_credentials(
    client: AomClient,
    profile: Profile,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Make ``client`` use ``profile``'s credentials from its next request on (after a reload
    read new secret files or variables). The profile must be the client's own: same project
    and endpoints (a re-pointed profile needs a restart)."""
    if profile.project_id != client.project_id:
        raise ConfigError(
            f"Profile {profile.name!r} now names another project; restart the bot to use it."
        )
    client.replace_auth(build_auth(profile, transport=transport, timeout=_timeout(settings)))


def _timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        settings.aom_timeout_seconds, connect=min(CONNECT_TIMEOUT, settings.aom_timeout_seconds)
    )


def build_auth(
    profile: Profile,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: httpx.Timeout,
) -> httpx.Auth:
    """The request signer (AK/SK) or token sender (static, or from IAM) for ``profile``."""
    credentials = profile.credentials
    if isinstance(credentials, AkSkCredentials):
        token = credentials.security_token
        return AkSkAuth(
            ak=credentials.ak,
            sk=credentials.sk.get_secret_value(),
            project_id=profile.project_id,
            security_token=token.get_secret_value() if token else None,
        )
    if isinstance(credentials, StaticTokenSetting):
        return TokenAuth(StaticToken(credentials.token.get_secret_value()))
    return TokenAuth(_iam_provider(profile, credentials, transport, timeout))


def build_limiter(settings: Settings) -> RequestLimiter:
    """The cap on AOM requests per second of one AOM profile."""
    return RequestLimiter(rate=settings.aom_max_requests_per_second)


def _iam_url(profile: Profile) -> str:
    if profile.iam_endpoint:
        return profile.iam_endpoint
    if profile.region:
        return iam_endpoint(profile.region)
    if profile.name == DEFAULT_PROFILE:
        raise ConfigError(
            "Token-from-IAM needs AOM_REGION or AOM_IAM_ENDPOINT.", hint="Set AOM_REGION."
        )
    raise ConfigError(f"Profile {profile.name!r}: token-from-IAM needs a region or iam_endpoint.")


def _iam_provider(
    profile: Profile,
    credentials: IamPasswordCredentials | IamAgencyCredentials,
    transport: httpx.AsyncBaseTransport | None,
    timeout: httpx.Timeout,
) -> IamTokenProvider:
    iam_http = build_http_client(
        base_url=_iam_url(profile), auth=None, transport=transport, timeout=timeout
    )
    project_id, region = profile.project_id, profile.region or None
    user = credentials.user if isinstance(credentials, IamAgencyCredentials) else credentials
    if isinstance(credentials, IamAgencyCredentials):
        own = IamTokenProvider(
            iam_http,
            PasswordIdentity(
                user=user.user,
                password=user.password.get_secret_value(),
                domain=user.domain,
                project_name=region,
                project_id=None if region else project_id,
            ),
        )
        return IamTokenProvider(
            iam_http,
            AgencyIdentity(
                agency_name=credentials.agency_name,
                domain_name=credentials.agency_domain,
                source=own,
                project_id=project_id,
            ),
        )
    return IamTokenProvider(
        iam_http,
        PasswordIdentity(
            user=user.user,
            password=user.password.get_secret_value(),
            domain=user.domain,
            project_id=project_id,
        ),
    )


def simulator_settings(settings: Settings, *, project_id: str, ak: str, sk: str) -> Settings:
    """The settings with AOM pointed at the in-process simulator (other settings kept)."""
    return settings.model_copy(
        update={
            "cloud_sdk_ak": _secret(ak),
            "cloud_sdk_sk": _secret(sk),
            "cloud_sdk_security_token": None,
            "aom_token": None,
            "aom_iam_user": None,
            "aom_iam_password": None,
            "aom_iam_domain": None,
            "aom_project_id": project_id,
            "aom_endpoint": SIMULATOR_URL,
        }
    )


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


def in_process_simulator(settings: Settings) -> tuple[Settings, httpx.AsyncBaseTransport, Demo]:
    """The demo world served in this process: settings pointed at it, and the transport."""
    from aom_bot.simulator import build_demo, create_simulator_app

    demo = build_demo(seed=1)
    transport = httpx.ASGITransport(
        app=create_simulator_app(demo.world, credentials=demo.credentials)
    )
    settings = simulator_settings(
        settings,
        project_id=demo.project_id,
        ak=demo.credentials.ak or "",
        sk=demo.credentials.sk or "",
    )
    return settings, transport, demo


def _listen(host: str, port: int) -> socket.socket:
    """Bind the simulator's port before printing anything: a busy port is one clear error, and
    uvicorn serves on this very socket (no window for another process to take it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        busy = exc.errno == errno.EADDRINUSE
        reason = "the port is already in use" if busy else (exc.strerror or type(exc).__name__)
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {reason}.",
            hint="Choose another --port (0 picks a free one)"
            + (", or stop what is using it." if busy else ", or another --host."),
        ) from None
    return sock


async def serve_simulator(
    *, host: str, port: int, scenario: str | None, speed: float, seed: int
) -> None:
    """Serve the simulator until interrupted; print the env lines that point the bot at it."""
    import uvicorn

    from aom_bot.simulator import build_demo, create_simulator_app, environment_lines

    demo = build_demo(scenario, speed, seed)
    sock = _listen(host, port)
    port = int(sock.getsockname()[1])
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
    base_url = f"http://{shown_host}:{port}"
    app = create_simulator_app(demo.world, credentials=demo.credentials)
    print("# AOM simulator: paste these lines into your shell (or put them in .env):", flush=True)
    for line in environment_lines(demo, base_url):
        key, _, value = line.partition("=")
        print(f"export {key}={shlex.quote(value)}", flush=True)
    summary = ", ".join(
        f"{wf['name']} ({wf['id']})" for wf in demo.world.workflow_page(size=100)["elements"]
    )
    print(f"# workflows: {summary}", file=sys.stderr, flush=True)
    print("# then: aom-bot workflows; aom-bot executions WORKFLOW_ID; aom-bot show WORKFLOW_ID EXECUTION_ID",
          file=sys.stderr, flush=True)  # fmt: skip
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    await uvicorn.Server(config).serve(sockets=[sock])


def database_url(settings: Settings) -> str:
    """The store URL; the default SQLite file's directory is created on first use."""
    if not settings.aom_bot_database_url:
        try:
            settings.aom_bot_state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the state directory {settings.aom_bot_state_dir}: {exc.strerror}.",
                hint="Set AOM_BOT_STATE_DIR to a writable directory, or AOM_BOT_DATABASE_URL.",
            ) from None
    return settings.database_url()


async def migrate_store(settings: Settings) -> int:
    """Apply pending schema migrations; return the schema version."""
    from aom_bot.store import open_store

    store = await open_store(database_url(settings))
    try:
        await store.migrate()
        return await store.schema_version()
    finally:
        await store.aclose()


#: the schema version that created the audit log (migration ``0004_actions``)
AUDIT_SCHEMA_VERSION = 4


async def read_audit(settings: Settings, *, since: datetime | None) -> list[AuditEntry]:
    """The audit log, newest first (from ``since`` on). Reading never migrates, so a
    read-only database role can audit; a store older than the audit log has no entries."""
    from aom_bot.store import open_store

    store = await open_store(database_url(settings))
    try:
        if await store.schema_version() < AUDIT_SCHEMA_VERSION:
            return []
        return await store.audit_entries(since=since, limit=None)
    finally:
        await store.aclose()
