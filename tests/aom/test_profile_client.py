"""One AOM client per profile, and credentials rotated in place after a reload.

The simulator checks signatures and tokens with its own code: a request that gets through was
signed with the keys it expects.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from aom_bot.config import (
    AkSkCredentials,
    AomAuthSettings,
    IamPasswordCredentials,
    Settings,
    StaticTokenCredentials,
)
from aom_bot.errors import AomAuthError, ConfigError
from aom_bot.profiles import LiveConfig, Profile, changed_credentials, load_bot_config
from aom_bot.runtime import build_aom_client, build_profile_client, rotate_credentials
from aom_bot.simulator import Demo, SimulatorCredentials, build_demo, create_simulator_app

PROJECT = "0123456789abcdef0123456789abcdef"
SIM = "http://aom.prod.local"
SETTINGS = Settings(_env_file=None)


@pytest.fixture
def demo() -> Demo:
    return build_demo(seed=3)


def served(demo: Demo, credentials: SimulatorCredentials | None = None) -> httpx.ASGITransport:
    app = create_simulator_app(demo.world, credentials=credentials or demo.credentials)
    return httpx.ASGITransport(app=app)


def profile(project_id: str, credentials: AomAuthSettings, **kw: str) -> Profile:
    return Profile(
        name=kw.pop("name", "prod"),
        region=kw.pop("region", "cn-north-4"),
        project_id=project_id,
        endpoint=kw.pop("endpoint", SIM),
        credentials=credentials,
        credential_source="test",
        **kw,  # type: ignore[arg-type]
    )


def demo_keys(demo: Demo) -> AkSkCredentials:
    assert demo.credentials.ak
    assert demo.credentials.sk
    return AkSkCredentials(demo.credentials.ak, SecretStr(demo.credentials.sk))


async def test_a_profile_client_reaches_its_endpoint_with_its_own_keys(demo: Demo) -> None:
    """AK/SK from the profile, signed as the simulator checks."""
    client = build_profile_client(
        profile(demo.project_id, demo_keys(demo)), SETTINGS, transport=served(demo)
    )
    async with client:
        workflows = await client.list_workflows()
    assert sorted(w.id for w in workflows) == sorted(demo.world.workflow_ids())
    assert client.project_id == demo.project_id


async def test_a_token_profile_sends_its_token(demo: Demo) -> None:
    """{token_env}: X-Auth-Token is the profile's token; another token is refused."""
    accepting = SimulatorCredentials(tokens=frozenset({"staging-token-1"}))
    good = profile(demo.project_id, StaticTokenCredentials(SecretStr("staging-token-1")))
    async with build_profile_client(good, SETTINGS, transport=served(demo, accepting)) as c:
        assert await c.list_workflows()
    bad = profile(demo.project_id, StaticTokenCredentials(SecretStr("other")))
    async with build_profile_client(bad, SETTINGS, transport=served(demo, accepting)) as c:
        with pytest.raises(AomAuthError):
            await c.list_workflows()


async def test_an_iam_profile_asks_its_regions_iam_unless_an_endpoint_is_given() -> None:
    """No iam_endpoint: IAM of the profile's region; with one: that one."""
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(f"{request.method} {request.url.host}{request.url.path}")
        if request.url.path == "/v3/auth/tokens":
            return httpx.Response(201, headers={"X-Subject-Token": "iam-tok"}, content=b"{}")
        assert request.headers["X-Auth-Token"] == "iam-tok"
        return httpx.Response(200, content=json.dumps({"total": 0, "elements": []}).encode())

    user = IamPasswordCredentials("bot", SecretStr("pw"), "acme")
    for extra, iam_host in (
        ({}, "iam.cn-east-3.myhuaweicloud.com"),
        ({"iam_endpoint": "https://iam.example.internal"}, "iam.example.internal"),
    ):
        hosts.clear()
        p = profile(PROJECT, user, region="cn-east-3", endpoint="https://aom.x", **extra)
        async with build_profile_client(p, SETTINGS, transport=httpx.MockTransport(answer)) as c:
            await c.list_workflows()
        assert hosts[0] == f"POST {iam_host}/v3/auth/tokens"
        assert hosts[1] == f"POST aom.x/v1/{PROJECT}/cms/workflow-list"


async def test_after_rotation_requests_are_signed_with_the_new_key() -> None:
    """The Authorization header names the new AK from the next request on."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, content=json.dumps({"total": 0, "elements": []}).encode())

    old = profile(PROJECT, AkSkCredentials("AKOLD0001", SecretStr("old-sk")))
    new = profile(PROJECT, AkSkCredentials("AKNEW0002", SecretStr("new-sk")))
    async with build_profile_client(old, SETTINGS, transport=httpx.MockTransport(answer)) as c:
        await c.list_workflows()
        rotate_credentials(c, new, SETTINGS)
        await c.list_workflows()
    assert "Access=AKOLD0001" in seen[0]
    assert "Access=AKNEW0002" in seen[1]


async def test_rotating_to_a_token_and_back_works_against_the_simulator(demo: Demo) -> None:
    """Wrong keys are refused; after rotation to the right ones the same client gets through."""
    wrong = profile(demo.project_id, AkSkCredentials("AKWRONG01", SecretStr("wrong-sk")))
    async with build_profile_client(wrong, SETTINGS, transport=served(demo)) as client:
        with pytest.raises(AomAuthError):
            await client.list_workflows()
        rotate_credentials(client, profile(demo.project_id, demo_keys(demo)), SETTINGS)
        assert await client.list_workflows()


def test_rotation_refuses_a_profile_of_another_project() -> None:
    """A re-pointed profile needs a restart, not a key swap."""
    client = build_profile_client(
        profile(PROJECT, StaticTokenCredentials(SecretStr("t"))),
        SETTINGS,
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
    )
    other = profile("f" * 32, StaticTokenCredentials(SecretStr("t")))
    with pytest.raises(ConfigError, match="restart"):
        rotate_credentials(client, other, SETTINGS)


async def test_a_reload_that_reads_rotated_secret_files_reaches_the_client(
    demo: Demo, tmp_path: Path
) -> None:
    """SIGHUP after the secret files changed: the reloaded keys sign the next request."""
    ak, sk = tmp_path / "ak", tmp_path / "sk"
    ak.write_text("AKSTALE01\n")
    sk.write_text("stale-sk\n")
    config_file = tmp_path / "aom-bot.toml"
    config_file.write_text(
        f'default_profile = "prod"\n[profiles.prod]\nregion = "cn-north-4"\n'
        f'project_id = "{demo.project_id}"\nendpoint = "{SIM}"\n'
        f'credentials = {{ ak_file = "{ak}", sk_file = "{sk}" }}\n'
    )
    live = LiveConfig(lambda: load_bot_config(SETTINGS, path=config_file, environ={}))
    client = build_profile_client(live.current.profiles["prod"], SETTINGS, transport=served(demo))
    async with client:
        with pytest.raises(AomAuthError):
            await client.list_workflows()
        keys = demo_keys(demo)
        ak.write_text(keys.ak + "\n")
        sk.write_text(keys.sk.get_secret_value() + "\n")
        before = live.current
        assert live.reload()
        for name in changed_credentials(before, live.current):
            rotate_credentials(client, live.current.profiles[name], SETTINGS)
        assert await client.list_workflows()


async def test_the_environment_client_is_built_as_before(demo: Demo) -> None:
    """build_aom_client(settings) is the environment's profile: same endpoint and project."""
    keys = demo_keys(demo)
    settings = Settings(
        _env_file=None,
        cloud_sdk_ak=SecretStr(keys.ak),
        cloud_sdk_sk=keys.sk,
        aom_project_id=demo.project_id,
        aom_endpoint=SIM,
    )
    async with build_aom_client(settings, transport=served(demo)) as client:
        assert await client.list_workflows()
        assert repr(client) == f"AomClient(base_url='{SIM}', project_id='{demo.project_id}')"


async def test_a_replaced_auth_is_closed_with_the_client_not_before() -> None:
    """A request in flight may still use the old auth (its IAM client): closed at aclose only."""
    closed: list[str] = []

    class Recording(httpx.Auth):
        def __init__(self, name: str) -> None:
            self.name = name

        async def aclose(self) -> None:
            closed.append(self.name)

    client = build_profile_client(
        profile(PROJECT, StaticTokenCredentials(SecretStr("t"))),
        SETTINGS,
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
    )
    client.replace_auth(Recording("first"))
    client.replace_auth(Recording("second"))
    assert closed == []
    await client.aclose()
    assert closed == ["first", "second"]
