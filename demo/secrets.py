"""The demo's secrets: made at run time, kept in `.demo/` (git-ignored, mode 0600), never
committed — not even the demo's.

A random useapi.net token for the emulator and a random password per account of
`stacks/Pulumi.demo.yaml`, made once per checkout, so the second `make up` sends the same
passwords and shows zero changes. The CLI gets the passwords through `pulumi config set
--secret` into a working copy of the stack file (`.demo/Pulumi.demo.yaml`, used with
`--config-file`), so the committed stack file is never written.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from provider.program.inventory import ACCOUNTS_KEY, PASSWORDS_KEY
from provider.tools.stack_file import namespaced, stack_file_path

STACK = "demo"
DEMO_DIR = ".demo"
# The keys the CLI writes into the working copy when it encrypts a value.
ENCRYPTION_KEYS = ("encryptionsalt", "secretsprovider", "encryptedkey")


def private_write(path: Path, text: str) -> None:
    """Write a file only its owner can read (its folder too)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) if path.exists() else None
    return data if isinstance(data, dict) else {}


def _config_value(data: dict[str, Any], key: str) -> Any:
    for present, value in (data.get("config") or {}).items():
        if namespaced(str(present)) == key:
            return value
    return None


def demo_emails(root: Path) -> list[str]:
    accounts = _config_value(_read_yaml(stack_file_path(root, STACK)), ACCOUNTS_KEY) or {}
    return sorted(str(email) for email in accounts)


@dataclass(frozen=True)
class DemoSecrets:
    token: str
    passwords: dict[str, str]


def demo_secrets(root: Path) -> DemoSecrets:
    """The emulator's token and one password per demo account, made once per checkout."""
    demo = root / DEMO_DIR
    token_file = demo / "useapi-token"
    if not token_file.exists():
        private_write(token_file, secrets.token_urlsafe(24))
    passwords_file = demo / "passwords.json"
    passwords: dict[str, str] = {}
    legacy_file = demo / "secret-config.json"  # where earlier versions kept them
    if passwords_file.exists():
        passwords = dict(json.loads(passwords_file.read_text()))
    elif legacy_file.exists():
        passwords = dict(json.loads(legacy_file.read_text()).get(PASSWORDS_KEY) or {})
    for email in demo_emails(root):
        passwords.setdefault(email, "demo-" + secrets.token_urlsafe(18))
    private_write(passwords_file, json.dumps(passwords, indent=2, sort_keys=True))
    return DemoSecrets(token_file.read_text().strip(), passwords)


def working_stack_file(root: Path) -> Path:
    """`.demo/Pulumi.demo.yaml`: the committed stack file plus the CLI's encrypted demo
    passwords, rebuilt from the committed file on every run (so an edit to the inventory is
    seen), keeping the passwords and the salt that encrypted them."""
    committed = _read_yaml(stack_file_path(root, STACK))
    working_path = root / DEMO_DIR / f"Pulumi.{STACK}.yaml"
    working = _read_yaml(working_path)
    merged = {key: value for key, value in committed.items() if key != "config"}
    for key in ENCRYPTION_KEYS:
        if key in working:
            merged[key] = working[key]
    config = dict(committed.get("config") or {})
    kept = _config_value(working, PASSWORDS_KEY)
    if kept:
        config[PASSWORDS_KEY] = kept
    merged["config"] = config
    private_write(working_path, yaml.safe_dump(merged, sort_keys=False))
    return working_path


def passwords_in(stack_file: Path) -> set[str]:
    """The emails whose password the working stack file already holds (encrypted)."""
    return set((_config_value(_read_yaml(stack_file), PASSWORDS_KEY) or {}).keys())
