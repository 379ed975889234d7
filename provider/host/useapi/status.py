"""What an HTTP status (and a 404's body) from useapi.net means, and what a person does next.

Kept apart from the transport so the policy reads as one table: which answers mean "gone",
which are the API's documented refusals (each with its own advice), and which cannot be the
API at all. The retry half of the policy (429 and 5xx) lives in the client's urllib3 Retry;
the statuses here that are never retried — 402 and 596 among them — are simply not in it.
"""

from __future__ import annotations

import json

import requests

# A mistyped base URL usually lands on a web page or a proxy's error page.
BASE_URL_HINT = (
    "check that `useapi:baseUrl` (USEAPI_BASE_URL) is the API root, "
    "https://api.useapi.net/v2 by default, then retry"
)
# Statuses useapi.net documents across its APIs that waiting does not fix.
SUBSCRIPTION_EXPIRED = 402
ACCOUNT_ERROR_STATE = 596
_MARKUP_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/xml", "application/xml"})
_TEXT_PREVIEW_CHARS = 300
_ERROR_CHARS = 500
# Refusals useapi.net's APIs document (with their own `error` text); any other 4xx is named
# as unexpected.
_REFUSALS = frozenset({400, 403, 405, 409, 410, 412, 413, 422})


def content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def is_markup(response: requests.Response) -> bool:
    """A web page (HTML or XML), by its content type or by how its body starts.

    No useapi.net answer is markup; a web server's page for a mistyped base URL is.
    """
    if content_type(response) in _MARKUP_TYPES:
        return True
    return response.content.lstrip()[:1] == b"<"


def describe_body(response: requests.Response) -> str:
    """A short, safe description of an answer's body: its kind and size, never its markup."""
    kind = content_type(response) or "no content type"
    size = len(response.content)
    try:
        response.json()
    except ValueError:
        return f"not JSON ({kind}, {size} bytes)"
    return f"not a JSON object ({kind}, {size} bytes)"


def not_found_problem(response: requests.Response) -> str | None:
    """None when a 404 is the API's own "no configuration for that email"; else what it is.

    useapi.net's docs give the 404 in prose ("Configuration not found. To create
    configuration use POST /accounts/email."), its error model is `{"error", "code"}`, and
    other useapi.net APIs answer 404 with an empty body: all three mean gone. A web page
    (a mistyped `useapi:baseUrl`) and JSON that is neither an object nor a string cannot be
    the API, so refresh must not drop state on them nor destroy count them as deleted.
    """
    if is_markup(response):
        return f"a 404 that is a web page ({content_type(response) or 'no content type'})"
    body = response.content.strip()
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # plain text, as the docs describe it
    if isinstance(parsed, (dict, str)):
        return None
    return f"a 404 whose body is JSON {type(parsed).__name__}, not an error object"


def _printable(text: str, limit: int) -> str:
    """One line of printable text: an answer must not move the cursor or recolour a terminal."""
    words = "".join(ch if ch.isprintable() else " " for ch in text).split()
    return " ".join(words)[:limit]


def api_error_text(response: requests.Response) -> str:
    """The API's own `error` text, the start of a plain-text answer, or a safe description.

    Callers redact secrets from what this returns before it reaches a user.
    """
    if is_markup(response):
        return f"an answer that is {describe_body(response)}"
    try:
        body = response.json()
    except ValueError:
        return _printable(response.text, _TEXT_PREVIEW_CHARS) or "an empty answer"
    if isinstance(body, dict):
        error = body.get("error")
        # Some useapi.net APIs forward the upstream service's `{"error": {"message"}}`.
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str):
            return _printable(error, _ERROR_CHARS)
    if isinstance(body, str):
        return _printable(body, _TEXT_PREVIEW_CHARS)
    return "no error text in the answer"


def status_hint(status: int | None, method: str) -> str:
    """What to do next, by status: the part of an error message a person acts on."""
    if status == 401:
        return "check the useapi.net API token in `useapi:token` (or USEAPI_TOKEN)"
    if status == SUBSCRIPTION_EXPIRED:
        return (
            "the useapi.net subscription has expired or is not active (HTTP 402, not retried): "
            "renew it on useapi.net, then run the command again"
        )
    if status == ACCOUNT_ERROR_STATE:
        return (
            "useapi.net holds this account in an error state (HTTP 596, not retried): a person "
            "must sign in to PixVerse with it to fix the cause (a changed password, a pending "
            "verification), then run `pulumi up` again, or delete the account on useapi.net "
            "and run `pulumi up` to add it anew"
        )
    if status == 400 and method == "POST":
        return (
            "check the password, that the PixVerse account signs in with email and password "
            "(Gmail, Apple and Discord sign-ins are not supported) and that maxJobs is 1..8"
        )
    if status == 429:
        return "useapi.net is rate limiting; retry later or raise `useapi:maxRetries`"
    if status == 404:
        # Only a 404 that is not the API's "no such account" gets here (or one to a POST).
        return BASE_URL_HINT
    if status is not None and 500 <= status < 600:
        return "useapi.net is failing; retry later or raise `useapi:maxRetries`"
    if status in _REFUSALS:
        return "see the useapi.net PixVerse accounts documentation"
    return (
        f"HTTP {status} is not a status the useapi.net accounts API uses; "
        f"{BASE_URL_HINT}, or see useapi.net's docs"
    )
