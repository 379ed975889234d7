"""The offline runner's state file: what exists, with secrets kept only as fingerprints.

Pulumi's own state encrypts secret values with the stack's secrets provider. The offline
runner has no secrets provider, so it never writes a secret at all: each secret property is
replaced by a keyed fingerprint (HMAC-SHA256 under a key stretched from
`PULUMI_CONFIG_PASSPHRASE` and a per-state random salt). That is all a diff needs — "is the
new password the one we applied last time?" — and it cannot be reversed into the password.
The cost: the runner cannot hand an old secret back to the provider, so the diff is given
the new value when the fingerprint matches and a placeholder when it does not (a change
either way, exactly as the provider would see it), and `refresh` keeps secrets as stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1
FINGERPRINT_KEY = "__fingerprint"
KDF_ITERATIONS = 200_000
# Stands in for an old secret whose fingerprint does not match the new value.
CHANGED_SECRET = "[changed secret]"


@dataclass
class ResourceRecord:
    """One resource as last applied: inputs and outputs with secrets fingerprinted."""

    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    secrets: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "secrets": sorted(self.secrets),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ResourceRecord:
        return ResourceRecord(
            type=str(data["type"]),
            id=str(data["id"]),
            inputs=dict(data.get("inputs") or {}),
            outputs=dict(data.get("outputs") or {}),
            secrets=list(data.get("secrets") or []),
        )


class Fingerprinter:
    """Keyed, salted fingerprints of secret values: comparable, never reversible."""

    def __init__(self, passphrase: str, salt: bytes) -> None:
        self._key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, KDF_ITERATIONS)

    def of(self, value: Any) -> dict[str, str]:
        text = json.dumps(value, sort_keys=True)
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()
        return {FINGERPRINT_KEY: f"hmac-sha256:{digest}"}

    def matches(self, stored: Any, value: Any) -> bool:
        return is_fingerprint(stored) and hmac.compare_digest(
            str(stored[FINGERPRINT_KEY]), self.of(value)[FINGERPRINT_KEY]
        )


def is_fingerprint(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {FINGERPRINT_KEY}


class StackState:
    """The stack's resources and outputs, saved atomically after every change."""

    def __init__(self, path: Path, passphrase: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        data: dict[str, Any] = {}
        if path.exists():
            data = json.loads(path.read_text())
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"{path}: unsupported state version {data.get('version')!r}")
        self.salt = bytes.fromhex(data["salt"]) if "salt" in data else secrets.token_bytes(16)
        self.fingerprints = Fingerprinter(passphrase, self.salt)
        self.resources: dict[str, ResourceRecord] = {
            name: ResourceRecord.from_json(record)
            for name, record in (data.get("resources") or {}).items()
        }
        self.outputs: dict[str, Any] = dict(data.get("outputs") or {})
        # False: changes stay in memory (a preview's refresh must not write state).
        self.persist = True

    # -- secrets ------------------------------------------------------------------------------

    def conceal(self, props: Mapping[str, Any], secret_keys: Iterable[str]) -> dict[str, Any]:
        """`props` with every secret value (that is set) replaced by its fingerprint."""
        hidden = set(secret_keys)
        return {
            key: self.fingerprints.of(value) if key in hidden and value is not None else value
            for key, value in props.items()
        }

    def reveal_for_diff(
        self, stored: Mapping[str, Any], news: Mapping[str, Any], secret_keys: Iterable[str]
    ) -> dict[str, Any]:
        """Old properties for the provider's diff: a secret whose fingerprint matches the new
        value becomes that value; one that does not becomes a placeholder that differs."""
        olds = dict(stored)
        for key in secret_keys:
            if key not in olds:
                continue
            if self.fingerprints.matches(olds[key], news.get(key)):
                olds[key] = news.get(key)
            elif is_fingerprint(olds[key]):
                olds[key] = CHANGED_SECRET
        return olds

    # -- persistence ----------------------------------------------------------------------------

    def put(self, name: str, record: ResourceRecord) -> None:
        with self._lock:
            self.resources[name] = record
            self._save_locked()

    def remove(self, name: str) -> None:
        with self._lock:
            self.resources.pop(name, None)
            self._save_locked()

    def set_outputs(self, outputs: Mapping[str, Any]) -> None:
        with self._lock:
            self.outputs = dict(outputs)
            self._save_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        if not self.persist:
            return
        data = {
            "version": STATE_VERSION,
            "salt": self.salt.hex(),
            "resources": {
                name: record.to_json() for name, record in sorted(self.resources.items())
            },
            "outputs": self.outputs,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, self.path)
