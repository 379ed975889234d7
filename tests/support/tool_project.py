"""A project directory for the day-2 tools without the pulumi CLI: `Pulumi.yaml`, one stack
file pointing at the emulator, and the accounts configured on the emulator as a past `up`
would have left them. The tools only read the stack file and call useapi.net, so a test of
what they print and which calls they make needs no engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.helpers import PASSWORD_SENTINEL, PROJECT_ROOT
from useapi_emulator import UseapiEmulator

STACK = "prod"


def tool_project(
    root: Path, emulator: UseapiEmulator, accounts: dict[str, int], **config: Any
) -> Path:
    """`root` as a project whose stack `prod` declares `accounts`, with `config` added to its
    stack file (namespaced keys); each account is configured on the emulator."""
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text((PROJECT_ROOT / "Pulumi.yaml").read_text())
    stack_config: dict[str, Any] = {
        "useapi:baseUrl": emulator.base_url,
        "useapi:timeout": "2",
        "useapi:maxRetries": "1",
        "pixverse-accounts:accounts": {email: {"maxJobs": n} for email, n in accounts.items()},
        **config,
    }
    (root / "stacks" / f"Pulumi.{STACK}.yaml").write_text(
        yaml.safe_dump({"config": stack_config}, sort_keys=False)
    )
    for email, max_jobs in accounts.items():
        requests.post(
            f"{emulator.base_url}/pixverse/accounts/{email}",
            json={"email": email, "password": PASSWORD_SENTINEL, "maxJobs": max_jobs},
            headers={"Authorization": f"Bearer {emulator.token}"},
            timeout=5,
        ).raise_for_status()
    emulator.reset_calls()
    return root
