"""Hypothesis strategies for raw, AOM-shaped (and AOM-misshaped) execution JSON."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!subteam^S0123|@oncall>",
    "<@U123>",
    "<#C123>",
    "<https://evil.example|click here>",
    "&lt;!channel&gt;",
    "&#x3C;!here&#x3E;",
    "```",
    "`````` closing",
    "*bold* _it_ ~s~",
    "\u202egnp.exe",
    "\x1b[31mred",
]

#: (text planted, the secret part that must never appear)
SECRETS = [
    ("mysql -uroot -pZq8!Secret", "Zq8!Secret"),
    ("DB_PASSWORD=Hx9-planted-pw", "Hx9-planted-pw"),
    ("Authorization: Bearer Tok3nPlantedValue123", "Tok3nPlantedValue123"),
    ("AK HPUAQ7X3K9M2P5R8T1V4", "HPUAQ7X3K9M2P5R8T1V4"),
    ("sk=Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789AbCd", "Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789AbCd"),
    ("https://bob:UrlPw0rd99@repo.example/x", "UrlPw0rd99"),
    (
        "-----BEGIN PRIVATE KEY-----\nPLANTEDKEYMATERIAL\n-----END PRIVATE KEY-----",
        "PLANTEDKEYMATERIAL",
    ),
]

STATUSES = [
    "executing",
    "waitExecute",
    "waitApproval",
    "approvalFailed",
    "pausing",
    "paused",
    "canceling",
    "cancel",
    "success",
    "fail",
    "running",
    "",
    "weird<!here>status",
]

_unicode = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
_text = st.one_of(
    _unicode,
    st.sampled_from(INJECTIONS),
    st.sampled_from(["", "web-01", "数据库-主节点-01", "🔥🔥", "e\u0301\u0301\u0301", "x" * 300]),
)
_log_line = st.one_of(_text, st.sampled_from([s for s, _ in SECRETS]), st.just("error: boom 42"))


@st.composite
def logs(draw: st.DrawFn) -> str:
    lines = draw(st.lists(_log_line, max_size=12))
    repeat = draw(st.sampled_from([1, 1, 1, 50, 1500]))  # up to ~100 KB
    body = "\n".join(lines)
    return (body + "\n") * repeat if repeat > 1 else body


@st.composite
def hosts(draw: st.DrawFn, pool: int) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if draw(st.booleans()):
        raw["id"] = f"h-{draw(st.integers(0, pool))}"
    for key, strategy in (
        ("name", _text),
        ("ip", st.one_of(st.just("10.0.0.1"), _text)),
        ("availability_zone", st.sampled_from(["", "cn-north-4a", "cn-north-4b", "<!here>"])),
        ("log", logs()),
        ("error_msg", st.one_of(st.just(""), _log_line)),
        (
            "exit_code",
            st.one_of(
                st.just(""), st.integers(-5, 300), st.just("1" * 30), st.just("x"), st.none()
            ),
        ),
    ):
        if draw(st.booleans()):
            raw[key] = draw(strategy)
    return raw


def _short(log: str) -> str:
    """The last whole lines of ``log`` within 2,000 characters (as a truncating agent would)."""
    if len(log) <= 2000:
        return log
    tail = log[-2000:]
    return tail.split("\n", 1)[1] if "\n" in tail else ""


@st.composite
def nodes(draw: st.DrawFn) -> dict[str, Any]:
    pool = draw(st.integers(5, 400))
    raw: dict[str, Any] = {
        "node_id": draw(_text),
        "status": draw(st.sampled_from(STATUSES)),
    }
    shape = draw(st.sampled_from(["buckets", "buckets", "buckets", "raw", "none"]))
    if shape == "buckets":
        names = draw(
            st.lists(
                st.sampled_from(
                    ["success", "fail", "fail", "in_execution", "not_performed", "skipped<!here>"]
                ),
                min_size=1,
                max_size=5,
                unique=True,
            )
        )
        output = {}
        for name in names:
            few = draw(st.lists(hosts(pool), max_size=8))
            scale = draw(st.sampled_from([1, 1, 1, 20, 120]))
            output[name] = [
                # many hosts share short logs; 100 KB logs stay on few hosts (test speed)
                dict(h, id=f"{h.get('id', 'x')}-{k}", log=_short(str(h.get("log", ""))))
                if scale > 1
                else h
                for k in range(scale)
                for h in few
            ]
        raw["output"] = output
    elif shape == "raw":
        raw["output"] = draw(st.one_of(_text, st.dictionaries(_text, _text, max_size=3)))
    return raw


@st.composite
def executions(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "workflow_id": draw(st.one_of(st.just("wf-1"), st.just(""), _text)),
        "execution_id": draw(st.one_of(st.just("e-1"), _text)),
        "status": draw(st.sampled_from(STATUSES)),
        "execution_result_list": draw(st.lists(nodes(), max_size=3)),
    }
    if draw(st.booleans()):
        raw["begin_time"] = draw(st.integers(1_600_000_000_000, 1_800_000_000_000))
    if draw(st.booleans()):
        raw["end_time"] = draw(
            st.one_of(st.integers(1_600_000_000_000, 1_800_000_000_000), st.just("garbage"))
        )
    if draw(st.booleans()):
        raw["approve_user_name_list"] = draw(st.lists(_text, max_size=15))
    if draw(st.booleans()):
        raw["created_by"] = draw(_text)
    return raw
