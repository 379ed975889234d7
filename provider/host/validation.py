"""The rules an account's properties must meet, shared by `check` and the inventory.

One function per property, each returning the reason it fails (or None), so that a bad
inventory is reported at preview with every bad property named, before any API call.
Reasons never quote a password or token: only the rule, and for non-secrets the value.
"""

from __future__ import annotations

import math
import re
from typing import Any

MIN_JOBS = 1
MAX_JOBS = 8
MAX_EMAIL_LENGTH = 254
MAX_SECRET_LENGTH = 4096

# Pragmatic address syntax: one @, no spaces or control characters, a dotted domain whose
# labels are letters, digits and inner hyphens, ending in a top-level domain of letters or its
# punycode form (`xn--p1ai` for .рф). useapi.net takes email+password accounts only.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,58}[A-Za-z0-9])$"
)


def describe(value: Any) -> str:
    """A short, printable description of a non-secret value for an error message."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (over 4300 digits)
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= 80 else text[:77] + "..."


def email_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"email must be a string, got {type(value).__name__}"
    if len(value) > MAX_EMAIL_LENGTH:
        return f"email must be at most {MAX_EMAIL_LENGTH} characters, got {len(value)}"
    if not _EMAIL.fullmatch(value) or ".." in value or value.startswith(".") or ".@" in value:
        return f"email must be an address like name@example.com, got {describe(value)}"
    return None


def password_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"password must be a string, got {type(value).__name__}"
    if value == "":
        return "password must not be empty"
    if len(value) > MAX_SECRET_LENGTH:
        return f"password must be at most {MAX_SECRET_LENGTH} characters"
    return None


def token_problem(value: Any) -> str | None:
    """The optional PixVerse session token: absent/None is fine; otherwise a string."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"token must be a string or unset, got {type(value).__name__}"
    if len(value) > MAX_SECRET_LENGTH:
        return f"token must be at most {MAX_SECRET_LENGTH} characters"
    return None


def max_jobs_problem(value: Any) -> str | None:
    """An integer 1..8; `3.0` is accepted because the wire carries every number as a double."""
    rule = f"maxJobs must be an integer from {MIN_JOBS} to {MAX_JOBS}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{rule}, got {type(value).__name__} {describe(value)}"
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return f"{rule}, got {describe(value)}"
    if not MIN_JOBS <= value <= MAX_JOBS:
        return f"{rule}, got {describe(int(value))}"
    return None


def as_max_jobs(value: Any) -> int:
    """Normalise a valid maxJobs (possibly `3.0`) to an int."""
    return int(value)
