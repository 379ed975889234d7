"""The offline state's secrets are keyed fingerprints, not hashes anyone can recompute.

SECURITY.md and localengine/state.py promise an HMAC keyed by the passphrase and the state's
salt. A plain (or unsalted) hash of a password would still keep the plaintext out of the file,
so a test that only looks for the plaintext would pass; it would also let anyone holding the
file test password guesses offline. These tests check the key itself: change the passphrase
or the salt and the fingerprint changes; no value in the saved file is a plain digest of the
password in any usual encoding; and the real offline engine's state file holds none either.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localengine.state import FINGERPRINT_KEY, Fingerprinter, ResourceRecord, StackState
from useapi_emulator import UseapiEmulator

from .helpers import PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL
from .stack_support import StackProject

PASSPHRASE = "correct horse battery staple"
SECRET_KEYS = ("password", "token")
OPS = "ops@example.com"


def _props(password: str = PASSWORD_SENTINEL) -> dict[str, Any]:
    return {"email": OPS, "password": password, "maxJobs": 3, "token": SESSION_TOKEN_SENTINEL}


def _saved(path: Path, passphrase: str = PASSPHRASE, password: str = PASSWORD_SENTINEL) -> Path:
    """A state file holding one account, written as the offline engine writes it."""
    state = StackState(path, passphrase)
    concealed = state.conceal(_props(password), SECRET_KEYS)
    state.put(OPS, ResourceRecord("pixverse:PixVerseAccount", OPS, concealed, concealed))
    return path


def _stored_password(path: Path) -> Any:
    return json.loads(path.read_text())["resources"][OPS]["outputs"]["password"]


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document, keys included, and each `prefix:` suffix alone."""
    if isinstance(value, str):
        yield value
        if ":" in value:
            yield value.split(":", 1)[1]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def plain_digests(secret: str) -> set[str]:
    """What a plain hash of `secret` looks like: the usual algorithms over the secret (and over
    its JSON form, which is what the fingerprinter feeds its HMAC), in hex and base64."""
    digests: set[str] = set()
    for message in (secret.encode(), json.dumps(secret).encode()):
        for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256"):
            raw = hashlib.new(name, message).digest()
            digests.add(raw.hex())
        for raw in (hashlib.blake2b(message).digest(), hashlib.blake2s(message).digest()):
            digests.add(raw.hex())
        for raw in [hashlib.new(n, message).digest() for n in ("sha1", "sha256", "sha512")]:
            for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
                text = encoded.decode()
                digests.update({text, text.rstrip("=")})
    return digests


def assert_no_plain_digest(document: Any, *secrets: str) -> None:
    stored = {text.lower() for text in _strings(document)}
    for secret in secrets:
        assert secret not in json.dumps(document)
        for digest in plain_digests(secret):
            assert digest.lower() not in stored, "a secret is stored as a plain, unkeyed hash"


def test_a_secret_is_stored_as_a_keyed_fingerprint(tmp_path: Path) -> None:
    path = _saved(tmp_path / "state.json")
    stored = _stored_password(path)
    assert set(stored) == {FINGERPRINT_KEY}
    assert stored[FINGERPRINT_KEY].startswith("hmac-sha256:")
    # Positive control: the same passphrase and salt recognise the password (that is what a
    # diff needs), so the checks below compare real fingerprints, not noise.
    reloaded = StackState(path, PASSPHRASE)
    assert reloaded.fingerprints.matches(stored, PASSWORD_SENTINEL)
    assert not reloaded.fingerprints.matches(stored, PASSWORD_SENTINEL + "x")


def test_another_passphrase_gives_another_fingerprint(tmp_path: Path) -> None:
    path = _saved(tmp_path / "state.json")
    stored = _stored_password(path)
    salt = bytes.fromhex(json.loads(path.read_text())["salt"])
    assert Fingerprinter(PASSPHRASE, salt).of(PASSWORD_SENTINEL) == stored
    other = Fingerprinter(PASSPHRASE + "!", salt).of(PASSWORD_SENTINEL)
    assert other != stored
    # The same file opened under another passphrase does not recognise the password.
    assert not StackState(path, "another passphrase").fingerprints.matches(
        stored, PASSWORD_SENTINEL
    )


def test_another_salt_gives_another_fingerprint(tmp_path: Path) -> None:
    first = _stored_password(_saved(tmp_path / "one.json"))
    second = _stored_password(_saved(tmp_path / "two.json"))
    assert first != second  # two states, two random salts, one passphrase and password
    salt = bytes.fromhex(json.loads((tmp_path / "one.json").read_text())["salt"])
    flipped = bytes([salt[0] ^ 1]) + salt[1:]
    assert Fingerprinter(PASSPHRASE, flipped).of(PASSWORD_SENTINEL) != first


def test_an_empty_passphrase_still_gives_a_salted_fingerprint(tmp_path: Path) -> None:
    """No passphrase set: weaker, but still salted per state, never a plain hash."""
    first = tmp_path / "one.json"
    _saved(first, passphrase="")
    _saved(tmp_path / "two.json", passphrase="")
    assert _stored_password(first) != _stored_password(tmp_path / "two.json")
    assert_no_plain_digest(json.loads(first.read_text()), PASSWORD_SENTINEL)


@pytest.mark.parametrize("password", [PASSWORD_SENTINEL, "hunter2", "pässwörd \x00"])
def test_no_stored_value_is_a_plain_hash_of_a_secret(tmp_path: Path, password: str) -> None:
    path = _saved(tmp_path / "state.json", password=password)
    assert_no_plain_digest(json.loads(path.read_text()), password, SESSION_TOKEN_SENTINEL)


def test_the_offline_engines_state_file_holds_no_plain_hash(
    tmp_path: Path, emulator: UseapiEmulator
) -> None:
    """The state a real offline `up` writes, for the program's own inventory."""
    project = StackProject(tmp_path / "project", emulator)
    passwords = {OPS: PASSWORD_SENTINEL}
    project.write({OPS: {"maxJobs": 3}}, passwords, tokens={OPS: SESSION_TOKEN_SENTINEL})
    project.up_ok()
    document = json.loads(project.state_file.read_text())
    fingerprints = [text for text in _strings(document) if text.startswith("hmac-sha256:")]
    assert len(fingerprints) >= 4  # password and token, in inputs and outputs
    assert_no_plain_digest(document, PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL)
