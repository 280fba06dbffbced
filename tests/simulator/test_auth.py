"""Server-side authentication: AK/SK signatures, X-Auth-Token, and the small IAM endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from aom_bot.aom.signing import authorization_header
from aom_bot.simulator import SimulatorCredentials, World, build_world, create_simulator_app

from .conftest import AK, BASE, SK, FakeClock, SigningAuth, cms, signed_url

AUTH_FAILED = {"error_code": "AOM.31009004", "error_message": "auth failed.", "http_code": "401"}
JSON = {"Content-Type": "application/json"}
CREDS = SimulatorCredentials(ak=AK, sk=SK, tokens=frozenset({"static-token"}),
                             iam_user="alice", iam_password="correct horse")  # fmt: skip


@pytest.fixture
async def plain(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A client without auth, against a simulator that requires credentials."""
    app = create_simulator_app(world, credentials=CREDS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def status_path(world: World) -> str:
    wf = world.workflow_ids()[0]
    return cms(world, f"workflow/{wf}/executions/{world.execution_ids(wf)[0]}/status")


async def send_signed(client: httpx.AsyncClient, auth: SigningAuth, method: str, url: str,
                      content: bytes = b"",
                      tamper: Callable[[httpx.Request], httpx.Request] | None = None) -> httpx.Response:  # fmt: skip
    request = client.build_request(method, url, content=content, headers=JSON)
    signed = next(auth.auth_flow(request))
    return await client.send(tamper(signed) if tamper else signed)


def assert_gateway_401(r: httpx.Response) -> None:
    assert r.status_code == 401
    body = r.json()
    assert body["error_code"] == "APIGW.0301"
    assert body["error_msg"].startswith("Incorrect IAM authentication information")


async def test_signed_requests_are_accepted(
    plain: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """GET, POST with a body and POST with a query, signed by aom_bot.aom.signing, all pass."""
    auth = SigningAuth(AK, SK, clock, project_id=world.project_id)
    r = await send_signed(plain, auth, "GET", status_path(world))
    assert r.status_code == 200
    assert r.json()["status"]
    body = '{"page":0,"size":2,"search":"é"}'.encode()
    r = await send_signed(plain, auth, "POST", cms(world, "workflow-list"), body)
    assert r.status_code == 200
    wf = world.workflow_id_by_name("canary-release")
    ex = world.execution_ids(wf)[0]
    clock.advance(120)
    query = [("node_id", "check-canary"), ("action", "continue")]
    url = signed_url(cms(world, f"workflow/{wf}/executions/{ex}/operation"), query)
    r = await send_signed(plain, auth, "POST", url)
    assert r.status_code == 200
    assert r.json() == {"result": "success"}


async def test_wrong_sk_or_ak_is_refused_by_the_gateway(
    plain: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """A signature made with another SK, or an unknown AK, gets the APIGW.0301 401."""
    r = await send_signed(plain, SigningAuth(AK, SK + "x", clock), "GET", status_path(world))
    assert_gateway_401(r)
    r = await send_signed(plain, SigningAuth("OTHERAK", SK, clock), "GET", status_path(world))
    assert_gateway_401(r)


@pytest.mark.parametrize(("skew_minutes", "accepted"), [(14, True), (-14, True), (16, False),
                                                        (-16, False)])  # fmt: skip
async def test_sdk_date_must_be_within_15_minutes_of_the_simulator_clock(
    plain: httpx.AsyncClient, world: World, clock: FakeClock, skew_minutes: int, accepted: bool
) -> None:
    """X-Sdk-Date more than 15 minutes off the simulator's clock is refused."""
    client_clock = FakeClock(clock.now + skew_minutes * 60)
    r = await send_signed(plain, SigningAuth(AK, SK, client_clock), "GET", status_path(world))
    if accepted:
        assert r.status_code == 200
    else:
        assert_gateway_401(r)


def _replace(request: httpx.Request, *, url: str | None = None,
             content: bytes | None = None) -> httpx.Request:  # fmt: skip
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, url or request.url, headers=headers,
                         content=request.content if content is None else content)  # fmt: skip


async def test_tampered_path_query_or_body_is_refused(
    plain: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """Changing the path, the query or the body after signing breaks the signature."""
    auth = SigningAuth(AK, SK, clock, project_id=world.project_id)
    wfs = world.workflow_ids()
    other = status_path(world).replace(wfs[0], wfs[1])
    r = await send_signed(plain, auth, "GET", status_path(world),
                          tamper=lambda q: _replace(q, url=BASE + other))  # fmt: skip
    assert_gateway_401(r)
    wf = world.workflow_id_by_name("canary-release")
    op = cms(world, f"workflow/{wf}/executions/{world.execution_ids(wf)[0]}/operation")
    url = signed_url(op, [("action", "continue"), ("node_id", "check-canary")])
    r = await send_signed(plain, auth, "POST", url,
                          tamper=lambda q: _replace(q, url=BASE + url.replace("continue", "skip")))  # fmt: skip
    assert_gateway_401(r)
    r = await send_signed(plain, auth, "POST", cms(world, "workflow-list"), b'{"size":2}',
                          tamper=lambda q: _replace(q, content=b'{"size":3}'))  # fmt: skip
    assert_gateway_401(r)


async def test_host_and_date_must_be_signed(
    plain: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """A valid signature that leaves Host out of SignedHeaders is not enough."""
    path = status_path(world)
    headers = {"X-Sdk-Date": "20240315T081000Z", "Content-Type": "application/json"}
    auth = authorization_header(ak=AK, sk=SK, method="GET", path=path, query=[],
                                headers=headers, body=b"")  # fmt: skip
    r = await plain.get(path, headers={**headers, "Authorization": auth})
    assert_gateway_401(r)


async def test_missing_credentials_and_project_mismatch_get_aoms_401(
    plain: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """No credentials, or a signed X-Project-Id for another project: AOM's documented 401."""
    r = await plain.get(status_path(world), headers=JSON)
    assert r.status_code == 401
    assert r.json() == AUTH_FAILED
    auth = SigningAuth(AK, SK, clock, project_id="0" * 32)
    r = await send_signed(plain, auth, "GET", status_path(world))
    assert r.status_code == 401
    assert r.json() == AUTH_FAILED


async def test_security_token_is_required_and_checked_when_configured(clock: FakeClock) -> None:
    """With temporary credentials configured, the signed X-Security-Token must match."""
    world = build_world(seed=2, clock=clock)
    creds = SimulatorCredentials(ak=AK, sk=SK, security_token="TEMPSECURITYTOKEN")
    app = create_simulator_app(world, credentials=creds)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        ok = SigningAuth(AK, SK, clock, security_token="TEMPSECURITYTOKEN")
        assert (await send_signed(c, ok, "GET", status_path(world))).status_code == 200
        wrong = SigningAuth(AK, SK, clock, security_token="OTHER")
        assert_gateway_401(await send_signed(c, wrong, "GET", status_path(world)))
        assert_gateway_401(await send_signed(c, SigningAuth(AK, SK, clock), "GET",
                                             status_path(world)))  # fmt: skip


async def test_configured_token_is_accepted_and_others_refused(
    plain: httpx.AsyncClient, world: World
) -> None:
    """X-Auth-Token must equal a configured (or IAM-issued) token."""
    r = await plain.get(status_path(world), headers={**JSON, "X-Auth-Token": "static-token"})
    assert r.status_code == 200
    r = await plain.get(status_path(world), headers={**JSON, "X-Auth-Token": "static-tokenX"})
    assert r.status_code == 401
    assert r.json() == AUTH_FAILED


def password_body(user: str, password: str) -> dict[str, object]:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": "acme"}}}},
        "scope": {"project": {"name": "cn-north-4"}}}}  # fmt: skip


async def test_iam_password_token_works_for_24_hours(
    plain: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """IAM answers 201 with X-Subject-Token; the token then opens AOM until it expires."""
    r = await plain.post("/v3/auth/tokens?nocatalog=true", json=password_body("alice",
                                                                              "correct horse"))  # fmt: skip
    assert r.status_code == 201
    token = r.headers["x-subject-token"]
    assert len(token) > 500
    assert r.json()["token"]["expires_at"] == "2024-03-16T08:10:00.000000Z"
    assert r.json()["token"]["issued_at"] == "2024-03-15T08:10:00.000000Z"
    wf = world.workflow_id_by_name("deploy-nginx")
    r = await plain.post(cms(world, f"workflow/{wf}/executions"), headers={"X-Auth-Token": token})
    assert r.status_code == 200
    runs = (await plain.get(cms(world, f"workflow/{wf}/executions"),
                            headers={"X-Auth-Token": token})).json()  # fmt: skip
    assert runs[0]["created_by"] == "alice"
    clock.advance(24 * 3600 + 1)
    r = await plain.get(status_path(world), headers={"X-Auth-Token": token})
    assert r.status_code == 401
    assert r.json() == AUTH_FAILED


async def test_iam_refuses_wrong_passwords_and_bad_bodies(plain: httpx.AsyncClient) -> None:
    """Wrong password is 401, a body IAM cannot read is 400; no token is issued."""
    r = await plain.post("/v3/auth/tokens", json=password_body("alice", "wrong"))
    assert r.status_code == 401
    assert "x-subject-token" not in r.headers
    for body in (b"nope", b"{}", b'{"auth": {"identity": {"methods": ["totp"]}}}'):
        r = await plain.post("/v3/auth/tokens", content=body, headers=JSON)
        assert r.status_code == 400, body


async def test_iam_assume_role_needs_a_valid_token(plain: httpx.AsyncClient, world: World) -> None:
    """An agency token is issued only to a caller holding a valid token."""
    body = {"auth": {"identity": {"methods": ["assume_role"], "assume_role": {
        "domain_name": "delegating", "agency_name": "aom-bot"}},
        "scope": {"project": {"id": world.project_id}}}}  # fmt: skip
    r = await plain.post("/v3/auth/tokens", json=body)
    assert r.status_code == 401
    r = await plain.post("/v3/auth/tokens", json=body, headers={"X-Auth-Token": "static-token"})
    assert r.status_code == 201
    token = r.headers["x-subject-token"]
    assert (await plain.get(status_path(world), headers={"X-Auth-Token": token})).status_code == 200


async def test_open_demo_mode_accepts_anything(client: httpx.AsyncClient, world: World) -> None:
    """With no credentials configured every request passes, signed or not, right or wrong."""
    assert SimulatorCredentials().is_open
    assert not CREDS.is_open
    r = await client.get(status_path(world), headers={"Authorization": "garbage"})
    assert r.status_code == 200
    r = await client.post("/v3/auth/tokens", json=password_body("anyone", "anything"))
    assert r.status_code == 201


def test_credentials_repr_hides_secrets() -> None:
    """The SK, tokens and passwords never show up in a repr."""
    text = repr(SimulatorCredentials(ak=AK, sk=SK, security_token="TOK", tokens=frozenset({"t1"}),
                                     iam_user="alice", iam_password="correct horse"))  # fmt: skip
    assert AK in text
    for secret in (SK, "TOK", "t1", "correct horse"):
        assert secret not in text
