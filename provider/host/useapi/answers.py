"""What useapi.net answers, read tolerantly: the account model and its parser.

The docs' model for an account says "all fields are optional", so any field may be left out,
`jwt` itself included. The reader keeps what is there and leaves the rest as None for the
caller to fill honestly (maxJobs from what was sent or from state) — a missing field is never
an error. What *cannot* be the API still is one: an answer that is not a JSON object, or a
field that is present with a type the model rules out (a `jwt` that is a list, a `maxJobs`
that is text). Nothing here quotes a value from an answer, only its type: an answer is not
trusted to be free of secrets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class UseapiError(Exception):
    """Any failure talking to useapi.net, worded so a user can act on it.

    Carries the HTTP status (None when no answer came), the API's own `error` text and the
    account's email; never a password or the API token.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        api_error: str | None = None,
        email: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.api_error = api_error
        self.email = email


# The session block's fields as the API names them (and as the resource's `jwt` output does).
ACCOUNT_ID = "AccountId"
EXPIRE_TIME = "ExpireTime"
EXPIRE_TIME_UTC = "ExpireTimeUTC"
USERNAME = "Username"


@dataclass(frozen=True)
class Jwt:
    """The PixVerse session useapi.net holds for an account, as far as the answer tells.

    Every field is optional (the docs' model says so); the masked session token is never kept.
    """

    account_id: int | None = None
    expire_time: int | None = None
    expire_time_utc: str | None = None
    username: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The resource's `jwt` output: only the fields the API sent, none made up or None."""
        wire = {
            ACCOUNT_ID: self.account_id,
            EXPIRE_TIME: self.expire_time,
            EXPIRE_TIME_UTC: self.expire_time_utc,
            USERNAME: self.username,
        }
        return {key: value for key, value in wire.items() if value is not None}


@dataclass(frozen=True)
class Account:
    """An account configuration as useapi.net reports it. The API never returns the password.

    `max_jobs` is None when the answer left it out: the caller knows what it sent (POST) or
    what state holds (read), and fills it from there.
    """

    email: str
    max_jobs: int | None
    jwt: Jwt | None


def _malformed_field(where: str, key: str, expected: str, value: Any) -> UseapiError:
    # The type only, never the value: an answer is not trusted to be free of secrets.
    return UseapiError(
        f"`{key}` of {where} should be {expected}, got {type(value).__name__}",
        email=where,
    )


def _is_number(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and (not isinstance(value, float) or math.isfinite(value))
    )


def _optional_whole(data: Mapping[str, Any], key: str, where: str) -> int | None:
    """A whole number, or None when absent (or null); `3.0` counts, `3.5` and `"3"` do not."""
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
        raise _malformed_field(where, key, "a whole number", value)
    return int(value)


def _optional_epoch(data: Mapping[str, Any], key: str, where: str) -> int | None:
    """Epoch seconds; a fractional one (sibling useapi.net APIs send those) is floored."""
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise _malformed_field(where, key, "a number of seconds", value)
    if isinstance(value, int):
        return value
    return math.floor(float(value))


def _optional_text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _malformed_field(where, key, "text", value)
    return value


def parse_jwt(data: Any, email: str) -> Jwt | None:
    """The session block, minus its masked token; None when the answer carries none."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise _malformed_field(email, "jwt", "an object", data)
    return Jwt(
        account_id=_optional_whole(data, ACCOUNT_ID, email),
        expire_time=_optional_epoch(data, EXPIRE_TIME, email),
        expire_time_utc=_optional_text(data, EXPIRE_TIME_UTC, email),
        username=_optional_text(data, USERNAME, email),
    )


def parse_account(data: Any, email: str) -> Account:
    """Typed account from an API answer; only a wrong shape or type is an error.

    The email is the one asked for: the path names the account, and an answer that leaves
    `email` out (or spells it differently) must not rename the resource.
    """
    if not isinstance(data, dict):
        raise UseapiError(
            f"expected an account object for {email}, got {type(data).__name__}", email=email
        )
    _optional_text(data, "email", email)  # present → must be text; its value is not used
    return Account(
        email=email,
        max_jobs=_optional_whole(data, "maxJobs", email),
        jwt=parse_jwt(data.get("jwt"), email),
    )


def parse_account_map(data: Any) -> dict[str, Account]:
    """`GET /accounts`: a map of email to account object."""
    if not isinstance(data, dict):
        raise UseapiError(f"expected a map of email to account, got {type(data).__name__}")
    return {str(key): parse_account(value, str(key)) for key, value in data.items()}
