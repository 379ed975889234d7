"""The floor program: the plainest Pulumi program of N Python dynamic resources with what ours
has per resource, run as the `__main__.py` of the benchmark's second project.

Same stack config as ours (the inventory, a secret password per account, the API settings),
one resource per account with its password as a secret input and the same outputs (the inputs
plus a `jwt` block, from `bench.sleep_provider`), and the same stack outputs (`accounts` with a
row per account, `totalMaxJobs`). What it leaves out is everything that is ours: the inventory's
validation, the per-account secret pairing, the session checks and their gate, and the provider.
So through the same engine, in the same run, its time is the floor a program like ours has, and
ours over it is the part we can remove.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pulumi
import pulumi.dynamic

from bench.sleep_provider import SleepProvider

_PROVIDER = SleepProvider()


class SleepAccount(pulumi.dynamic.Resource, module="bench", name="SleepAccount"):
    jwt: pulumi.Output[dict[str, Any]]
    maxJobs: pulumi.Output[int]

    def __init__(self, email: str, password: pulumi.Input[str], max_jobs: int) -> None:
        props = {
            "email": email,
            "password": pulumi.Output.secret(password),
            "maxJobs": max_jobs,
            "token": None,
            "jwt": None,
        }
        opts = pulumi.ResourceOptions(additional_secret_outputs=["password", "token"])
        super().__init__(_PROVIDER, email, props, opts)


def _password(email: str, passwords: dict[str, str]) -> str:
    return passwords[email]


def _row(max_jobs: int, jwt: dict[str, Any]) -> dict[str, Any]:
    return {"Username": jwt["Username"], "ExpireTimeUTC": jwt["ExpireTimeUTC"], "maxJobs": max_jobs}


def main() -> None:
    config = pulumi.Config()
    accounts: dict[str, dict[str, int]] = config.require_object("accounts")
    passwords = config.require_secret_object("passwords")
    rows: dict[str, pulumi.Output[dict[str, Any]]] = {}
    for email in sorted(accounts):
        max_jobs = int(accounts[email]["maxJobs"])
        account = SleepAccount(email, passwords.apply(partial(_password, email)), max_jobs)
        rows[email] = account.jwt.apply(partial(_row, max_jobs))
    pulumi.export("accounts", rows)
    pulumi.export("totalMaxJobs", sum(int(entry["maxJobs"]) for entry in accounts.values()))


main()
