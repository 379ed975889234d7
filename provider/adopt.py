"""`python -m provider.adopt --stack <name> [--write]`: bring accounts that already exist on
useapi.net into the stack's inventory.

Reads the live account list (one `GET /accounts`, nothing else: no write call) with the
provider's own settings, and shows the inventory entries for every account the stack file
does not declare yet, with their live `maxJobs`. With `--write` it adds them to
`stacks/Pulumi.<name>.yaml`, keeping the file's entries, order and comments. It never reads
or writes a password; it prints the `pulumi config set --secret` command still to run for
each adopted account.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from .host.settings import SettingsError
from .host.useapi.client import UseapiError
from .program.inventory import ACCOUNTS_KEY, InventoryError, parse_accounts
from .tools.adoption import (
    AdoptionPlan,
    inventory_snippet,
    merge_damage,
    password_commands,
    plan_adoption,
)
from .tools.live_fleet import read_live_fleet
from .tools.stack_file import StackFile, StackFileError, stack_file_path


def _report(plan: AdoptionPlan, stack_file: StackFile, stack: str, write: bool) -> None:
    name = stack_file.path.name
    for line in plan.skipped:
        print(f"skipped: {line}")
    for email in plan.declared_missing:
        print(f"note: {email} is declared in {name} but not on useapi.net: `pulumi up` creates it")
    if not plan.new:
        print(f"Every account on useapi.net is already declared in {name}: nothing to adopt.")
        return
    print(f"{len(plan.new)} account(s) on useapi.net are not declared in {name}:\n")
    print(inventory_snippet(plan.new))
    if write:
        print(f"Added them to {stack_file.path} (existing entries, order and comments kept).")
    else:
        print(f"Dry run: nothing written. Run again with --write to add them to {name}.")
    print(
        "\nuseapi.net never returns passwords, so set each adopted account's password "
        "(you are prompted for it):"
    )
    for command in password_commands(plan.new, stack):
        print(f"  {command}")
    print(
        "\nThen `pulumi preview`: each adopted account shows as a create, which is one POST "
        "with the same maxJobs (POST is an upsert: the account is adopted, not duplicated); "
        "nothing is deleted."
    )


def _check_merged(stack_file: StackFile, before: str, added: Mapping[str, int]) -> None:
    """Read the merged text as Pulumi and the program will, before it is written: a merge that
    lost or changed anything that was there, or that the inventory would reject, must fail
    here (the file untouched), not at the next preview or, worse, as a delete in `up`."""
    data = yaml.safe_load(stack_file.text()) or {}
    damage = merge_damage(yaml.safe_load(before), data, added)
    if damage:
        listed = "\n".join(f"  - {line}" for line in damage)
        raise StackFileError(
            f"refusing to write {stack_file.path}: adding the accounts would also change what "
            f"is there:\n{listed}"
        )
    parse_accounts((data.get("config") or {}).get(ACCOUNTS_KEY))


def adopt(project_dir: Path, stack: str, write: bool, environ: Mapping[str, str]) -> int:
    stack_file = StackFile.load(stack_file_path(project_dir, stack))
    fleet = read_live_fleet(stack_file, stack, environ)
    for note in fleet.notes:
        print(f"note: {note}", file=sys.stderr)
    live = fleet.accounts
    print(
        f"useapi.net ({fleet.settings.base_url}) has {len(live)} PixVerse account(s); "
        f"{stack_file.path.name} declares {len(stack_file.accounts())}."
    )
    plan = plan_adoption(live, stack_file.accounts())
    if write and plan.new:
        before = stack_file.path.read_text()
        stack_file.add_accounts(plan.new)
        _check_merged(stack_file, before, plan.new)
        stack_file.save()
    _report(plan, stack_file, stack, write)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.adopt", description=__doc__)
    parser.add_argument(
        "--stack", "-s", required=True, help="the stack (file stacks/Pulumi.<stack>.yaml)"
    )
    parser.add_argument("--write", action="store_true", help="add the entries to the stack file")
    parser.add_argument("--cwd", default=".", help="the project directory (with Pulumi.yaml)")
    args = parser.parse_args(argv)
    try:
        return adopt(Path(args.cwd), args.stack, args.write, os.environ)
    except (StackFileError, SettingsError, UseapiError, InventoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
