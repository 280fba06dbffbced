"""A minimal IAM ``POST /v3/auth/tokens`` so token authentication can be demoed offline.

Accepts the password body and the assume_role (agency) body of §7.1; answers 201 with the token in
the ``X-Subject-Token`` header and ``expires_at``/``issued_at`` in the body, as IAM does.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from aom_bot.simulator.auth import Authenticator
from aom_bot.simulator.world import dump_json

__all__ = ["issue_token"]

_JSON = "application/json;charset=UTF-8"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, code: str, message: str) -> Response:
    return Response(dump_json({"error_msg": message, "error_code": code}), status, media_type=_JSON)


def _dict(value: object, key: str) -> dict[str, Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


async def issue_token(request: Request, auth: Authenticator, now: datetime,
                      project_id: str) -> Response:  # fmt: skip
    """Handle one token request."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _error(400, "IAM.0007", "The request body is not valid JSON.")
    identity = _dict(_dict(body, "auth"), "identity")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods:
        return _error(400, "IAM.0007", "auth.identity.methods is required.")
    if "password" in methods:
        user = _dict(_dict(identity, "password"), "user")
        name, password = user.get("name"), user.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            return _error(400, "IAM.0007", "password.user.name and password are required.")
        if not auth.password_ok(name, password):
            return _error(401, "IAM.0101", "The username or password is wrong.")
        who = name
    elif "assume_role" in methods:
        role = _dict(identity, "assume_role")
        agency = role.get("agency_name") or role.get("xrole_name")
        domain = role.get("domain_name") or role.get("domain_id")
        if not isinstance(agency, str) or not agency or not isinstance(domain, str) or not domain:
            return _error(400, "IAM.0007", "assume_role needs domain_name and agency_name.")
        caller = auth.token_user(request.headers.get("x-auth-token", ""), now)
        if caller is None:
            return _error(401, "IAM.0001", "The token is invalid or has expired.")
        who = f"{domain}/{agency}"
    else:
        return _error(400, "IAM.0007", "Only password and assume_role are supported here.")
    token, expires = auth.issue(who, now)
    payload = {
        "token": {
            "expires_at": _iso(expires),
            "issued_at": _iso(now),
            "methods": [m for m in methods if isinstance(m, str)],
            "project": {"id": project_id, "name": "cn-north-4"},
            "user": {"name": who},
        }
    }
    return Response(dump_json(payload), 201, media_type=_JSON,
                    headers={"X-Subject-Token": token})  # fmt: skip
