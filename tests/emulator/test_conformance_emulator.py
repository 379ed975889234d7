"""The emulator's variants: each form useapi.net's docs allow, served when a test switches it on.

The client's conformance tests rely on these switches doing what they say, so each is shown
here with plain `requests` calls, independent of the client under test.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from useapi_emulator import UseapiEmulator, Variants
from useapi_emulator.server import NOT_FOUND_TEXT, WEBSITE_404_PAGE

pytestmark = pytest.mark.timeout(30)
TIMEOUT = 5
EMAIL = "ops+a@example.com"
AUTH = {"Authorization": f"Bearer {TOKEN_SENTINEL}"}


def _url(emu: UseapiEmulator, segment: str = "") -> str:
    root = f"{emu.base_url}/pixverse/accounts"
    return f"{root}/{segment}" if segment else root


def _body(email: str = EMAIL, **overrides: Any) -> dict[str, Any]:
    return {"email": email, "password": PASSWORD_SENTINEL, "maxJobs": 3, **overrides}


def _post(emu: UseapiEmulator, segment: str, **kwargs: Any) -> requests.Response:
    return requests.post(_url(emu, segment), headers=AUTH, timeout=TIMEOUT, **kwargs)


# -- the path segment ------------------------------------------------------------------------


def test_literal_path_takes_the_segment_as_it_is(emulator: UseapiEmulator) -> None:
    emulator.variants = Variants(literal_path=True)
    assert _post(emulator, EMAIL, json=_body()).status_code == 201
    raw = requests.get(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT)
    assert raw.status_code == 200 and raw.json()["email"] == EMAIL
    # A client that percent-encodes the email names another account, which does not exist.
    encoded = "ops%2Ba%40example.com"
    assert requests.get(_url(emulator, encoded), headers=AUTH, timeout=TIMEOUT).status_code == 404
    assert _post(emulator, encoded, json=_body()).status_code == 400  # body email != path
    assert [r.email for r in emulator.calls()] == [EMAIL, EMAIL, encoded, encoded]


def test_by_default_the_segment_is_percent_decoded(emulator: UseapiEmulator) -> None:
    assert _post(emulator, "ops%2Ba%40example.com", json=_body()).status_code == 201
    assert list(emulator.accounts) == [EMAIL]


# -- the API's own 404s ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "content_type", "body"),
    [
        ("json", "application/json", b'"code": 404'),
        ("text", "text/plain", NOT_FOUND_TEXT.encode()),
        ("empty", None, b""),
    ],
)
def test_every_404_takes_the_chosen_shape(
    emulator: UseapiEmulator, shape: str, content_type: str | None, body: bytes
) -> None:
    emulator.variants = Variants(not_found=shape)
    answers = [
        requests.get(_url(emulator), headers=AUTH, timeout=TIMEOUT),
        requests.get(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT),
        requests.delete(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT),
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers.get("Content-Type", "").split(";")[0] == (content_type or "")
        assert body in answer.content if body else answer.content == b""


def test_a_website_404_is_html_and_only_off_the_api(emulator: UseapiEmulator) -> None:
    emulator.variants = Variants(website_404=True)
    page = requests.get(f"{emulator.root_url}/v1/pixverse/accounts", timeout=TIMEOUT)
    assert page.status_code == 404 and page.content == WEBSITE_404_PAGE
    assert page.headers["Content-Type"].startswith("text/html")
    assert requests.get(_url(emulator), headers=AUTH, timeout=TIMEOUT).json()["code"] == 404


# -- answers with fields left out --------------------------------------------------------------


@pytest.mark.parametrize(
    "omit",
    [{"jwt"}, {"maxJobs"}, {"email"}, {"jwt.AccountId", "jwt.ExpireTime", "jwt.token"}],
    ids=lambda omit: "+".join(sorted(omit)),  # a set's order differs between processes
)
def test_fields_are_left_out_of_every_account_object(
    emulator: UseapiEmulator, omit: set[str]
) -> None:
    emulator.variants = Variants(omit=frozenset(omit))
    created = _post(emulator, EMAIL, json=_body()).json()
    one = requests.get(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT).json()
    listed = requests.get(_url(emulator), headers=AUTH, timeout=TIMEOUT).json()[EMAIL]
    for answer in (created, one, listed):
        for field in omit:
            parent, _, child = field.partition(".")
            assert (child not in answer.get(parent, {})) if child else (parent not in answer)
    assert emulator.accounts[EMAIL].max_jobs == 3  # only the answer is thinner


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        Variants(omit=frozenset({"jwt.Nope"}))
    with pytest.raises(ValueError, match="unknown variant"):
        Variants(not_found="xml")
    with pytest.raises(ValueError, match="unknown DELETE answer"):
        Variants(delete_answer="202")


# -- DELETE's answer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "has_body"),
    [("204", 204, False), ("200-json", 200, True), ("200-empty", 200, False)],
)
def test_delete_answers_as_chosen(
    emulator: UseapiEmulator, answer: str, status: int, has_body: bool
) -> None:
    emulator.variants = Variants(delete_answer=answer)
    _post(emulator, EMAIL, json=_body())
    deleted = requests.delete(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT)
    assert deleted.status_code == status and bool(deleted.content) == has_body
    if has_body:
        assert deleted.json() == {"account": EMAIL, "deleted": True, "remaining": 0}
    assert emulator.accounts == {}


# -- 402 and 596 --------------------------------------------------------------------------------


def test_an_expired_subscription_is_402_on_every_call(emulator: UseapiEmulator) -> None:
    emulator.subscription_expired = True
    for answer in (
        _post(emulator, EMAIL, json=_body()),
        requests.get(_url(emulator), headers=AUTH, timeout=TIMEOUT),
        requests.delete(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT),
    ):
        assert answer.status_code == 402 and answer.json()["code"] == 402
    assert emulator.accounts == {}
    # Authentication still comes first.
    assert requests.get(_url(emulator), timeout=TIMEOUT).status_code == 401


def test_an_account_in_error_is_596_until_deleted(emulator: UseapiEmulator) -> None:
    _post(emulator, EMAIL, json=_body())
    emulator.mark_error(EMAIL, "refresh token rejected")
    one = requests.get(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT)
    assert one.status_code == 596 and "refresh token rejected" in one.json()["error"]
    assert _post(emulator, EMAIL, json=_body()).status_code == 596
    assert requests.delete(_url(emulator, EMAIL), headers=AUTH, timeout=TIMEOUT).status_code == 204
    assert _post(emulator, EMAIL, json=_body()).status_code == 201  # added anew


# -- request bodies the docs allow ----------------------------------------------------------


def test_a_multipart_form_body_is_accepted(emulator: UseapiEmulator) -> None:
    form = {"email": (None, EMAIL), "password": (None, PASSWORD_SENTINEL), "maxJobs": (None, "4")}
    answer = _post(emulator, EMAIL, files=form)
    assert answer.status_code == 201, answer.text
    assert answer.json()["maxJobs"] == 4
    (post,) = emulator.calls("POST")
    assert post.body == {"email": EMAIL, "password": PASSWORD_SENTINEL, "maxJobs": "4"}
    assert emulator.accounts[EMAIL].password == PASSWORD_SENTINEL


@pytest.mark.parametrize("max_jobs", ["3", " 5 ", "8"])
def test_max_jobs_as_a_numeric_string_is_accepted(emulator: UseapiEmulator, max_jobs: str) -> None:
    answer = _post(emulator, EMAIL, json=_body(maxJobs=max_jobs))
    assert answer.status_code == 201 and answer.json()["maxJobs"] == int(max_jobs)


def test_a_body_that_is_neither_json_nor_a_form_is_400(emulator: UseapiEmulator) -> None:
    answer = requests.post(
        _url(emulator, EMAIL),
        data=b"email=x",
        headers={**AUTH, "Content-Type": "text/plain"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400 and "multipart/form-data" in answer.json()["error"]
