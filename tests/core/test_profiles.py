"""Loading the profiles file: the issue's example, every credential form, and every mistake
named by file and key without ever repeating a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from aom_bot.config import (
    AkSkCredentials,
    IamAgencyCredentials,
    IamPasswordCredentials,
    Settings,
    StaticTokenCredentials,
)
from aom_bot.errors import ConfigError, UnknownProfileError
from aom_bot.profiles import DEFAULT_PROFILE, BotConfig, Permission, Policy, load_bot_config

PROD = "0123456789abcdef0123456789abcdef"
STAGING = "fedcba9876543210fedcba9876543210"
SECRETS = {
    "PROD_AK": "AKPRODKEY0001",
    "PROD_SK": "prod-secret-key-value-0001",
    "STAGING_TOKEN": "staging-token-value-0001",
}

EXAMPLE = f"""
default_profile = "staging"            # where no channel binding applies

[profiles.prod]
region = "cn-north-4"
project_id = "{PROD}"
endpoint = "https://aom.example.internal"
iam_endpoint = "https://iam.example.internal"
console_url = "https://console.example/{{region}}/{{project_id}}/{{workflow_id}}/{{execution_id}}"
credentials = {{ ak_env = "PROD_AK", sk_env = "PROD_SK" }}
two_person = ["terminate", "run"]

[profiles.staging]
region = "cn-east-3"
project_id = "{STAGING}"
credentials = {{ token_env = "STAGING_TOKEN" }}

[channels]
C0PROD0001 = "prod"
C0STAGE001 = "staging"

[[allow]]
profiles = ["*"]
actions = ["read", "follow", "subscribe"]
channels = ["*"]

[[allow]]
profiles = ["prod"]
actions = ["terminate", "retry", "run"]
channels = ["C0PROD0001"]
users = ["U0ALICE01"]
groups = ["S0ONCALL1"]
"""


def no_env() -> Settings:
    """Settings with nothing set (the suite clears AOM_*/CLOUD_SDK_*; no .env is read)."""
    return Settings(_env_file=None)


def env_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "cloud_sdk_ak": SecretStr("AKENV0001"),
        "cloud_sdk_sk": SecretStr("env-secret-key-0001"),
        "aom_project_id": PROD,
        "aom_region": "cn-north-4",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def write(tmp_path: Path, text: str, name: str = "aom-bot.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(
    path: Path, environ: dict[str, str] | None = None, settings: Settings | None = None
) -> BotConfig:
    return load_bot_config(
        settings or no_env(), path=path, environ=SECRETS if environ is None else environ
    )


def single(credentials: str, extra: str = "") -> str:
    """A file with one profile ``p`` (the default) using ``credentials``."""
    return (
        f'default_profile = "p"\n[profiles.p]\nregion = "cn-north-4"\nproject_id = "{PROD}"\n'
        f"credentials = {credentials}\n{extra}"
    )


def error_of(path: Path, environ: dict[str, str] | None = None, **kw: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path, environ, **kw)  # type: ignore[arg-type]
    return caught.value.user_message(cli=True)


# ---- the issue's example -------------------------------------------------------------------


def test_the_issues_example_loads_with_its_profiles_bindings_and_rules(tmp_path: Path) -> None:
    """Both profiles, in file order, with resolved endpoints, credentials and bindings."""
    config = load(write(tmp_path, EXAMPLE))
    assert list(config.profiles) == ["prod", "staging"]
    prod, staging = config.profiles["prod"], config.profiles["staging"]
    assert (prod.region, prod.project_id, prod.endpoint) == (
        "cn-north-4",
        PROD,
        "https://aom.example.internal",
    )
    assert prod.iam_endpoint == "https://iam.example.internal"
    assert prod.console_url == (
        "https://console.example/{region}/{project_id}/{workflow_id}/{execution_id}"
    )
    assert prod.two_person == {Permission.TERMINATE, Permission.RUN}
    assert prod.credentials == AkSkCredentials(
        ak="AKPRODKEY0001", sk=SecretStr("prod-secret-key-value-0001")
    )
    assert prod.credential_source == "env PROD_AK/PROD_SK"
    assert staging.endpoint == "https://aom.cn-east-3.myhuaweicloud.com"
    assert staging.iam_endpoint is None
    assert staging.credentials == StaticTokenCredentials(SecretStr("staging-token-value-0001"))
    assert staging.credential_source == "env STAGING_TOKEN"
    assert config.default_profile == "staging"
    assert dict(config.channels) == {"C0PROD0001": "prod", "C0STAGE001": "staging"}
    assert len(config.policy.rules) == 2
    assert config.source == tmp_path / "aom-bot.toml"
    assert config.several


def test_profile_for_takes_the_explicit_name_then_the_channel_then_the_default(
    tmp_path: Path,
) -> None:
    """--profile wins; else the channel's binding; else default_profile (also with no channel)."""
    config = load(write(tmp_path, EXAMPLE))
    assert config.profile_for("C0PROD0001").name == "prod"
    assert config.profile_for("C0STAGE001").name == "staging"
    assert config.profile_for("C0OTHER001").name == "staging"
    assert config.profile_for(None).name == "staging"
    assert config.profile_for("C0STAGE001", "prod").name == "prod"


def test_an_unknown_profile_name_is_refused_with_the_known_names(tmp_path: Path) -> None:
    """A typo in --profile says which profiles exist."""
    config = load(write(tmp_path, EXAMPLE))
    with pytest.raises(UnknownProfileError) as caught:
        config.profile_for("C0PROD0001", "prdo")
    message = caught.value.user_message()
    assert "'prdo'" in message
    assert "prod, staging" in message


def test_reprs_never_show_a_secret_but_secret_values_lists_them(tmp_path: Path) -> None:
    """Profiles and the whole config print without secrets; secret_values() feeds the masks."""
    config = load(write(tmp_path, EXAMPLE))
    shown = repr(config) + str(config) + repr(config.profiles["prod"])
    for secret in ("prod-secret-key-value-0001", "staging-token-value-0001"):
        assert secret not in shown
        assert secret in config.secret_values()
    assert "env PROD_AK/PROD_SK" in repr(config.profiles["prod"])


# ---- credential forms ----------------------------------------------------------------------


def test_ak_sk_from_the_environment_with_a_security_token(tmp_path: Path) -> None:
    """{ak_env, sk_env, security_token_env}: temporary keys."""
    creds = '{ ak_env = "A", sk_env = "S", security_token_env = "T" }'
    config = load(write(tmp_path, single(creds)), {"A": "AK1", "S": "SK1", "T": "TOK1"})
    profile = config.profiles["p"]
    assert profile.credentials == AkSkCredentials("AK1", SecretStr("SK1"), SecretStr("TOK1"))
    assert profile.credential_source == "env A/S/T"
    assert set(profile.secret_values()) == {"AK1", "SK1", "TOK1"}


def test_ak_sk_from_files_is_read_on_each_load(tmp_path: Path) -> None:
    """{ak_file, sk_file}: trailing newlines dropped; loading again reads rotated keys."""
    ak, sk = tmp_path / "ak", tmp_path / "sk"
    ak.write_text("AKFILE1\n")
    sk.write_text("skfile-1\n")
    path = write(tmp_path, single(f'{{ ak_file = "{ak}", sk_file = "{sk}" }}'))
    first = load(path, {}).profiles["p"]
    assert first.credentials == AkSkCredentials("AKFILE1", SecretStr("skfile-1"))
    assert first.credential_source == f"files {ak}, {sk}"
    sk.write_text("skfile-2")
    assert load(path, {}).profiles["p"].credentials == AkSkCredentials(
        "AKFILE1", SecretStr("skfile-2")
    )


def test_an_iam_user_and_an_agency(tmp_path: Path) -> None:
    """{iam_user_env, iam_password_env, iam_domain[, agency_domain, agency_name]}."""
    env = {"U": "bot", "P": "pw-0001"}
    user = '{ iam_user_env = "U", iam_password_env = "P", iam_domain = "acme" }'
    plain = load(write(tmp_path, single(user)), env).profiles["p"]
    assert plain.credentials == IamPasswordCredentials("bot", SecretStr("pw-0001"), "acme")
    assert plain.credential_source == "IAM user from env U/P"
    agency = user.replace(" }", ', agency_domain = "other", agency_name = "ops" }')
    delegated = load(write(tmp_path, single(agency)), env).profiles["p"]
    assert delegated.credentials == IamAgencyCredentials(
        IamPasswordCredentials("bot", SecretStr("pw-0001"), "acme"), "other", "ops"
    )
    assert delegated.credential_source == "IAM user from env U/P, agency other/ops"
    assert delegated.secret_values() == ("pw-0001",)


# ---- secrets written into the file ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "instead"),
    [
        ("ak", "ak_env"),
        ("sk", 'sk_env = "NAME"'),
        ("token", "token_env"),
        ("password", "iam_password_env"),
        ("security_token", "security_token_env"),
        ("iam_password", "iam_password_env"),
        ("secret_sk", "sk_file"),
        ("mytoken", "token_env"),
    ],
)
def test_an_inline_secret_is_refused_naming_the_key_and_never_echoed(
    tmp_path: Path, key: str, instead: str
) -> None:
    """The message names file and key and how to reference the secret; the value is absent."""
    value = "Zz9-INLINE-SECRET-VALUE-42"
    creds = f'{{ ak_env = "PROD_AK", sk_env = "PROD_SK", {key} = "{value}" }}'
    path = write(tmp_path, single(creds))
    message = error_of(path)
    assert str(path) in message
    assert f"profiles.p.credentials.{key}" in message
    assert instead in message
    assert value not in message


def test_an_unknown_credentials_key_is_refused_without_its_value(tmp_path: Path) -> None:
    """Anything unknown under credentials may be a secret: named, never quoted."""
    value = "Qq8-MAYBE-A-SECRET"
    path = write(tmp_path, single(f'{{ token_env = "STAGING_TOKEN", akk = "{value}" }}'))
    message = error_of(path)
    assert "profiles.p.credentials.akk" in message
    assert "token_env" in message
    assert value not in message


def test_a_secret_outside_credentials_is_refused_too(tmp_path: Path) -> None:
    """``sk = …`` right in the profile table: refused, not echoed."""
    value = "Ww7-PROFILE-LEVEL-SECRET"
    creds = '{ token_env = "STAGING_TOKEN" }'
    message = error_of(write(tmp_path, single(creds, f'sk = "{value}"\n')))
    assert "profiles.p.sk" in message
    assert value not in message


def test_a_secret_pasted_as_a_variable_name_is_not_echoed(tmp_path: Path) -> None:
    """``sk_env = "<the SK itself>"``: the missing variable is not named by its "name"."""
    pasted = "Ab12Cd34Ef56Gh78Ij90Kl12"
    path = write(tmp_path, single(f'{{ ak_env = "PROD_AK", sk_env = "{pasted}" }}'))
    message = error_of(path)
    assert "profiles.p.credentials.sk_env" in message
    assert pasted not in message


# ---- every other mistake, by file and key --------------------------------------------------

_TOKEN = '{ token_env = "STAGING_TOKEN" }'


@pytest.mark.parametrize(
    ("text", "key", "what"),
    [
        (single(_TOKEN).replace('region = "cn-north-4"\n', ""), "profiles.p.region", "missing"),
        (single(_TOKEN).replace("cn-north-4", "CN North"), "profiles.p.region", "region id"),
        (single(_TOKEN).replace(PROD, "../etc"), "profiles.p.project_id", "project id"),
        (single(_TOKEN, 'endpoint = "ftp://x"'), "profiles.p.endpoint", "http"),
        (single(_TOKEN, 'iam_endpoint = "https://u:pw@iam.example"'), "profiles.p.iam_endpoint",
         "user name or password"),
        (single(_TOKEN, 'console_url = "https://c/{nope}"'), "profiles.p.console_url",
         "unknown placeholder"),
        (single(_TOKEN, 'two_person = ["read"]'), "profiles.p.two_person[1]", "two people"),
        (single(_TOKEN, "colour = 1"), "profiles.p.colour", "unknown key"),
        (single(_TOKEN) + "\nlisten = 1\n", "listen", "unknown key"),
        (single('{ ak_env = "A", token_env = "B" }'), "profiles.p.credentials", "exactly one"),
        (single('{ ak_env = "A" }'), "profiles.p.credentials", "sk_env missing"),
        (single("{}"), "profiles.p.credentials", "no credentials"),
        (single('{ ak_file = "relative/ak", sk_file = "/s" }'), "profiles.p.credentials.ak_file",
         "absolute path"),
        (single('{ token_env = "NOT A NAME" }'), "profiles.p.credentials.token_env",
         "environment variable"),
        (single('{ iam_user_env = "U", iam_password_env = "P", iam_domain = "d", '
                'agency_name = "ops" }'), "profiles.p.credentials", "together"),
        (single(_TOKEN, '[channels]\nC0AAA0001 = "ghost"'), "channels.C0AAA0001",
         "no profile 'ghost'"),
        (single(_TOKEN, '[channels]\nbad = "p"'), "channels.bad", "channel ID"),
        (single(_TOKEN).replace('default_profile = "p"', 'default_profile = "prdo"'),
         "default_profile", "no profile 'prdo'"),
        (single(_TOKEN, '[[allow]]\nprofiles = ["ghost"]\nactions = ["read"]'),
         "allow[1].profiles[1]", "no profile 'ghost'"),
        (single(_TOKEN, '[[allow]]\nprofiles = ["*"]\nactions = ["read", "fly"]'),
         "allow[1].actions[2]", "unknown action"),
        (single(_TOKEN, '[[allow]]\nprofiles = ["*"]\nactions = ["read"]\nusers = ["alice"]'),
         "allow[1].users[1]", "user ID"),
        (single(_TOKEN, '[[allow]]\nprofiles = ["*"]\nactions = ["read"]\ngroups = ["U0X1"]'),
         "allow[1].groups[1]", "user-group ID"),
        (single(_TOKEN, '[[allow]]\nprofiles = ["*"]\nactions = ["read"]\nusers = []'),
         "allow[1].users", "must not be empty"),
        (single(_TOKEN, '[[allow]]\nprofiles = ["*"]\nactions = ["read"]\nchannels = ["#ops"]'),
         "allow[1].channels[1]", "channel ID"),
        (single(_TOKEN, '[[allow]]\nactions = ["read"]'), "allow[1].profiles", "missing"),
    ],
)  # fmt: skip
def test_each_mistake_names_the_file_the_key_and_what_is_wrong(
    tmp_path: Path, text: str, key: str, what: str
) -> None:
    """One ConfigError: the file, the key path, and what is wrong."""
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert f"{key}:" in message or f"{key} " in message, message
    assert what in message, message
    assert "pw" not in message.replace("password", "")  # the URL's password is not quoted


def test_several_problems_are_listed_together(tmp_path: Path) -> None:
    """All structural problems come in one message, one per line."""
    text = single(_TOKEN, 'colour = 1\n[channels]\nbad = "p"\n').replace("cn-north-4", "x")
    message = error_of(write(tmp_path, text))
    assert "has 3 problems" in message
    for key in ("profiles.p.region", "profiles.p.colour", "channels.bad"):
        assert key in message


@pytest.mark.parametrize(
    ("environ", "what"),
    [({}, "STAGING_TOKEN is not set"), ({"STAGING_TOKEN": "  "}, "STAGING_TOKEN is empty")],
)
def test_a_missing_or_empty_variable_names_the_key_and_the_variable(
    tmp_path: Path, environ: dict[str, str], what: str
) -> None:
    """The variable is named; the file is named; the bot does not start."""
    path = write(tmp_path, single(_TOKEN))
    message = error_of(path, environ)
    assert "profiles.p.credentials.token_env" in message
    assert what in message


def test_an_unreadable_or_empty_secret_file_is_named_not_quoted(tmp_path: Path) -> None:
    """Missing and empty files are both reported (at once), by key and path."""
    ak = tmp_path / "ak"
    ak.write_text("\n")
    missing = tmp_path / "nope" / "sk"
    path = write(tmp_path, single(f'{{ ak_file = "{ak}", sk_file = "{missing}" }}'))
    message = error_of(path, {})
    assert f"profiles.p.credentials.ak_file: the file {ak} is empty" in message
    assert f"profiles.p.credentials.sk_file: the file {missing} does not exist" in message


def test_a_toml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    """tomllib's position is kept; the rest of the file is not quoted."""
    path = write(tmp_path, 'default_profile = "p"\n[profiles.p\nregion = "x"\n')
    message = error_of(path)
    assert str(path) in message
    assert "invalid TOML" in message
    assert "line 2" in message


# ---- no file, the working directory, and the environment's profile --------------------------


def test_without_a_file_the_environment_is_the_one_profile_with_the_open_policy(
    tmp_path: Path,
) -> None:
    """Exactly today's behaviour: profile "default" from AOM_*/CLOUD_SDK_*, everyone may read,
    follow and subscribe, nobody may act."""
    settings = env_settings(aom_console_url="https://c/{execution_id}")
    config = load_bot_config(settings, cwd=tmp_path, environ={})
    assert config.source is None
    assert list(config.profiles) == [DEFAULT_PROFILE]
    assert config.default_profile == DEFAULT_PROFILE
    assert not config.several
    profile = config.profile_for("C0ANY00001")
    assert (profile.region, profile.project_id, profile.endpoint) == (
        "cn-north-4",
        PROD,
        settings.aom_endpoint_url(),
    )
    assert profile.credentials == settings.aom_auth()
    assert profile.console_url == "https://c/{execution_id}"
    assert profile.credential_source == "environment (CLOUD_SDK_AK/CLOUD_SDK_SK)"
    assert config.policy == Policy.open()
    assert dict(config.channels) == {}


def test_without_a_file_an_unconfigured_environment_fails_as_before(tmp_path: Path) -> None:
    """The same ConfigError as the bot gave before profiles existed."""
    with pytest.raises(ConfigError) as caught:
        load_bot_config(no_env(), cwd=tmp_path, environ={})
    with pytest.raises(ConfigError) as before:
        no_env().check_aom()
    assert caught.value.user_message() == before.value.user_message()


def test_aom_bot_toml_in_the_working_directory_is_picked_up(tmp_path: Path) -> None:
    """No AOM_BOT_CONFIG: ./aom-bot.toml is read when present."""
    write(tmp_path, EXAMPLE)
    config = load_bot_config(no_env(), cwd=tmp_path, environ=SECRETS)
    assert config.source == tmp_path / "aom-bot.toml"
    assert list(config.profiles) == ["prod", "staging"]


def test_aom_bot_config_wins_over_the_working_directory_and_may_be_relative(
    tmp_path: Path,
) -> None:
    """AOM_BOT_CONFIG (relative to the working directory) is used even if ./aom-bot.toml exists."""
    write(tmp_path, EXAMPLE)
    write(tmp_path, single(_TOKEN), name="other.toml")
    settings = Settings(_env_file=None, aom_bot_config=Path("other.toml"))
    config = load_bot_config(settings, cwd=tmp_path, environ=SECRETS)
    assert list(config.profiles) == ["p"]
    assert config.source == tmp_path / "other.toml"


def test_aom_bot_config_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable's name is AOM_BOT_CONFIG."""
    monkeypatch.setenv("AOM_BOT_CONFIG", "/etc/aom-bot/aom-bot.toml")
    assert Settings(_env_file=None).aom_bot_config == Path("/etc/aom-bot/aom-bot.toml")


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    """AOM_BOT_CONFIG pointing nowhere does not silently fall back to the environment."""
    message = error_of(tmp_path / "missing.toml", settings=env_settings())
    assert "missing.toml" in message
    assert "does not exist" in message


def test_the_environments_profile_joins_the_files_as_default(tmp_path: Path) -> None:
    """With AOM configured in the environment, "default" is that profile, next to the file's."""
    config = load(write(tmp_path, EXAMPLE), settings=env_settings())
    assert list(config.profiles) == [DEFAULT_PROFILE, "prod", "staging"]
    assert config.profiles[DEFAULT_PROFILE].credential_source.startswith("environment")
    assert config.default_profile == "staging"


def test_a_file_profile_named_default_wins_over_the_environment(tmp_path: Path) -> None:
    """[profiles.default] replaces the environment's profile, and default_profile defaults to it."""
    text = (
        single(_TOKEN)
        .replace("profiles.p", "profiles.default")
        .replace('default_profile = "p"\n', "")
    )
    config = load(write(tmp_path, text), settings=env_settings())
    assert list(config.profiles) == [DEFAULT_PROFILE]
    assert config.profiles[DEFAULT_PROFILE].credential_source == "env STAGING_TOKEN"
    assert config.default_profile == DEFAULT_PROFILE


def test_default_profile_must_exist_when_the_environment_has_none(tmp_path: Path) -> None:
    """No [profiles.default], no AOM in the environment, no default_profile: said plainly."""
    text = single(_TOKEN).replace('default_profile = "p"\n', "")
    message = error_of(write(tmp_path, text))
    assert "default_profile: there is no profile 'default' (profiles: p)" in message


def test_a_half_configured_environment_next_to_a_file_is_reported(tmp_path: Path) -> None:
    """AOM_PROJECT_ID without credentials, and a file that does not replace "default"."""
    settings = Settings(_env_file=None, aom_project_id=PROD)
    message = error_of(write(tmp_path, single(_TOKEN)), settings=settings)
    assert "the environment's profile 'default'" in message
    assert "No AOM credentials configured" in message


def test_an_empty_aom_bot_config_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """AOM_BOT_CONFIG= (empty, as a template may leave it) is no file, not the directory."""
    monkeypatch.setenv("AOM_BOT_CONFIG", "")
    assert Settings(_env_file=None).aom_bot_config is None
