"""`python -m localengine.offline up|preview|refresh|destroy|output --stack demo`: no CLI needed.

Where the `pulumi` CLI is not installed, this plays the engine for the project's own program:
it runs `__main__.py` under the SDK's mock monitor (see `program.py`), routes every
`PixVerseAccount` to the SDK's real dynamic provider host (`python -m pulumi.dynamic`, driven by
`ProviderHost`), and keeps a local state file (`state.py`: secrets only as fingerprints).
Per resource it does what the engine does on `pulumi up`: Check, then Diff against the state,
then Create, Update, replace (delete first) or nothing — a no-op makes no API call. Resources in
the state that the program no longer declares are deleted after the program succeeds. It
prints the plan/result summary and the stack outputs, like the CLI. `--refresh` reads every
resource back first (a preview keeps what it read in memory only), `--expect-no-changes` fails
a run that changes anything, and `output` prints the last outputs as JSON, as
`pulumi stack output --json` does.

It is a faithful stand-in for the demo and the tests, not a replacement for the CLI: no
`secure:` config decryption (secret config comes from a JSON file), no invokes, no
component resources, no import.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .host import ProviderHost, ProviderHostError
from .program import ProgramError, ResourceRequest, run_program
from .stackconfig import StackConfig, StackConfigError, load_project, load_stack_config
from .state import CHANGED_SECRET, ResourceRecord, StackState, is_fingerprint

PROVIDER_KEY = "__provider"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
DEFAULT_STATE_DIR = ".pulumi-state/offline"
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
IN_FLIGHT_TIMEOUT = 300.0


@dataclass
class Summary:
    """What an operation did (or, in preview, would do), by resource name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # `--refresh` before up/preview: what the refresh found changed or gone on useapi.net. As
    # in the CLI, these are not changes of the update itself (only its plan that follows is).
    refreshed: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.created) + len(self.updated) + len(self.replaced) + len(self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": sorted(self.created),
            "updated": sorted(self.updated),
            "replaced": sorted(self.replaced),
            "deleted": sorted(self.deleted),
            "unchanged": sorted(self.unchanged),
            "refreshed": sorted(self.refreshed),
            "outputs": self.outputs,
            "warnings": self.warnings,
        }


class OfflineError(ProgramError):
    """An operation failed; the message is printed as `error: ...`. A ProgramError, so that
    raised inside the program's registration it reaches the user as it is."""


def _provider_message(exc: ProviderHostError) -> str:
    """The provider's own message: the last line of what the host sent (after its traceback)."""
    lines = [line for line in exc.details.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"{exc.method} failed ({exc.code.name})"


def _without_provider(props: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in props.items() if key != PROVIDER_KEY}


def _stored_props(record: ResourceRecord) -> dict[str, Any]:
    """Stored outputs for Read/Delete: a fingerprinted secret becomes a placeholder."""
    return {
        key: CHANGED_SECRET if is_fingerprint(value) else value
        for key, value in record.outputs.items()
    }


class Deployment:
    """One operation on one stack: the handler the program's registrations are routed to."""

    def __init__(self, state: StackState, host: ProviderHost, preview: bool) -> None:
        self.state = state
        self.host = host
        self.preview = preview
        self.summary = Summary()
        self.declared: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._inflight = 0

    def _note(self, bucket: list[str], symbol: str, name: str, what: str) -> None:
        with self._lock:
            bucket.append(name)
            if symbol:
                print(f"    {symbol} {name}: {what}", flush=True)

    # -- up / preview: one call per declared resource -----------------------------------------

    def handle(self, request: ResourceRequest) -> tuple[str, dict[str, Any]]:
        with self._idle:
            self._inflight += 1
        try:
            return self._handle(request)
        except ProviderHostError as exc:
            raise OfflineError(f"{request.name}: {_provider_message(exc)}") from None
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait for resource operations still running: when one fails, the program stops at
        once, but the others must finish (and be recorded) before the host goes away — as the
        engine lets in-flight steps complete."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout)

    def _handle(self, request: ResourceRequest) -> tuple[str, dict[str, Any]]:
        if not request.type.startswith(DYNAMIC_PREFIX):
            raise OfflineError(
                f"{request.name}: the offline runner handles Python dynamic resources only, "
                f"not {request.type}"
            )
        name = request.name
        with self._lock:
            self.declared.add(name)
        secret_keys = set(request.secret_keys)
        checked = self.host.check(name, {}, request.inputs)
        if checked.failures:
            problems = "; ".join(f"{prop}: {reason}" for prop, reason in checked.failures)
            raise OfflineError(f"{name}: check failed: {problems}")
        news = checked.inputs
        existing = self.state.resources.get(name)
        if existing is not None and existing.type == request.type:
            secret_keys |= set(existing.secrets)
            olds = self.state.reveal_for_diff(existing.outputs, news, secret_keys)
            diff = self.host.diff(existing.id, name, olds, news)
            if not diff.has_changes:
                self._note(self.summary.unchanged, "", name, "unchanged")
                return existing.id, _without_provider(olds)
            if diff.replaces:
                return self._replace(request, existing, news, secret_keys, diff.replaces)
            return self._update(request, existing, olds, news, secret_keys)
        return self._create(request, news, secret_keys)

    def _record(
        self,
        request: ResourceRequest,
        id_: str,
        news: Mapping[str, Any],
        outs: Mapping[str, Any],
        secret_keys: set[str],
    ) -> None:
        self.state.put(
            request.name,
            ResourceRecord(
                type=request.type,
                id=id_,
                inputs=self.state.conceal(news, secret_keys),
                outputs=self.state.conceal(outs, secret_keys),
                secrets=sorted(secret_keys),
            ),
        )

    def _create(
        self, request: ResourceRequest, news: Mapping[str, Any], secret_keys: set[str]
    ) -> tuple[str, dict[str, Any]]:
        if self.preview:
            self._note(self.summary.created, "+", request.name, "would create")
            return request.name, _without_provider(news)
        id_, outs = self.host.create(request.name, news)
        self._record(request, id_, news, outs, secret_keys)
        self._note(self.summary.created, "+", request.name, "created")
        return id_, _without_provider(outs)

    def _update(
        self,
        request: ResourceRequest,
        existing: ResourceRecord,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        secret_keys: set[str],
    ) -> tuple[str, dict[str, Any]]:
        if self.preview:
            self._note(self.summary.updated, "~", request.name, "would update")
            # As the engine previews an update: the new inputs; outputs the provider computes
            # (the session) are unknown until the update has run, not the old ones.
            return existing.id, _without_provider(news)
        outs = self.host.update(existing.id, request.name, olds, news)
        self._record(request, existing.id, news, outs, secret_keys)
        self._note(self.summary.updated, "~", request.name, "updated")
        return existing.id, _without_provider(outs)

    def _replace(
        self,
        request: ResourceRequest,
        existing: ResourceRecord,
        news: Mapping[str, Any],
        secret_keys: set[str],
        replaces: list[str],
    ) -> tuple[str, dict[str, Any]]:
        what = f"replace ({', '.join(replaces)} changed; the old one is deleted first)"
        if self.preview:
            self._note(self.summary.replaced, "+-", request.name, f"would {what}")
            return existing.id, _without_provider(news)
        self.host.delete(existing.id, request.name, _stored_props(existing))
        self.state.remove(request.name)
        id_, outs = self.host.create(request.name, news)
        self._record(request, id_, news, outs, secret_keys)
        self._note(self.summary.replaced, "+-", request.name, what)
        return id_, _without_provider(outs)

    # -- after the program: what it no longer declares --------------------------------------

    def delete_undeclared(self) -> None:
        for name, record in sorted(self.state.resources.items()):
            if name in self.declared:
                continue
            if self.preview:
                self._note(self.summary.deleted, "-", name, "would delete")
                continue
            try:
                self.host.delete(record.id, name, _stored_props(record))
            except ProviderHostError as exc:
                raise OfflineError(f"{name}: {_provider_message(exc)}") from None
            self.state.remove(name)
            self._note(self.summary.deleted, "-", name, "deleted")

    # -- destroy / refresh: no program ------------------------------------------------------

    def destroy(self) -> None:
        self.delete_undeclared()
        if not self.preview:
            self.state.set_outputs({})

    def refresh(self, before_update: bool = False) -> None:
        """Read every resource back. Standalone, what changed is the operation's result; before
        an update (`--refresh`), it is only noted: the update's own plan counts."""
        changed = self.summary.refreshed if before_update else self.summary.updated
        gone = self.summary.refreshed if before_update else self.summary.deleted
        for name, record in sorted(self.state.resources.items()):
            try:
                outcome = self.host.read(record.id, name, _stored_props(record))
            except ProviderHostError as exc:
                raise OfflineError(f"{name}: {_provider_message(exc)}") from None
            if not outcome.id:
                self.state.remove(name)
                self._note(gone, "-", name, "gone from useapi.net; dropped")
                continue
            # Secrets cannot be read back (the API masks them): keep the stored fingerprints.
            outputs = {
                key: record.outputs.get(key) if key in record.secrets else value
                for key, value in outcome.outputs.items()
            }
            inputs = dict(record.inputs)
            for key, value in (outcome.inputs or {}).items():
                if key not in record.secrets:
                    inputs[key] = value
            if outputs == record.outputs and inputs == record.inputs:
                if not before_update:
                    self._note(self.summary.unchanged, "", name, "unchanged")
                continue
            self.state.put(
                name,
                ResourceRecord(record.type, record.id, inputs, outputs, list(record.secrets)),
            )
            self._note(changed, "~", name, "refreshed (changed on useapi.net)")


def _print_outputs(outputs: Mapping[str, Any]) -> None:
    if not outputs:
        return
    print("Outputs:")
    for key, value in sorted(outputs.items()):
        rendered = json.dumps(value, indent=4, sort_keys=True).replace("\n", "\n    ")
        print(f"    {key}: {rendered}")


def _print_summary(operation: str, summary: Summary, preview: bool, seconds: float) -> None:
    would = "to " if preview else ""
    print("Resources:")
    for symbol, label, names in (
        ("+", "create" if preview else "created", summary.created),
        ("~", "update" if preview else "updated", summary.updated),
        ("+-", "replace" if preview else "replaced", summary.replaced),
        ("-", "delete" if preview else "deleted", summary.deleted),
    ):
        if names:
            print(f"    {symbol} {len(names)} {would}{label}")
    print(f"    {len(summary.unchanged)} unchanged")
    if summary.refreshed:
        print(f"    ({len(summary.refreshed)} refreshed first: changed or gone on useapi.net)")
    if summary.changes == 0:
        print("    (no changes)")
    print(f"Duration: {seconds:.1f}s ({operation}, offline: no pulumi CLI)")


def stack_state_path(state_dir: Path, project: str, stack: str) -> Path:
    """Where a stack's offline state lives, as the CLI's file backend lays out its stacks."""
    return state_dir / project / f"{stack}.json"


def _load_secret_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OfflineError(f"cannot read the secret config {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise OfflineError(f"the secret config {path} must be a JSON object of config keys")
    return data


def run(
    operation: str,
    *,
    project_dir: Path,
    stack: str,
    state_dir: Path,
    secret_config: Path | None,
    env: Mapping[str, str] | None = None,
    refresh: bool = False,
) -> Summary:
    """Run one operation; raises OfflineError (or ProgramError) with a printable message."""
    environ = dict(os.environ if env is None else env)
    project = load_project(project_dir)
    config: StackConfig = load_stack_config(project, stack, _load_secret_config(secret_config))
    state_path = stack_state_path(state_dir, project.name, stack)
    state = StackState(state_path, environ.get(PASSPHRASE_ENV, ""))
    preview = operation == "preview"
    # A preview never writes state, not even what its refresh read (as `pulumi preview --refresh`).
    state.persist = not preview
    title = {"up": "Updating", "preview": "Previewing update", "destroy": "Destroying"}.get(
        operation, "Refreshing"
    )
    print(f"{title} ({stack}) with the offline engine; state: {state_path}", flush=True)
    started = time.monotonic()
    with ProviderHost(project.directory, env=environ) as host:
        host.configure(config.values)
        deployment = Deployment(state, host, preview)
        try:
            if operation in ("up", "preview"):
                if refresh:
                    deployment.refresh(before_update=True)
                try:
                    result = run_program(
                        project.main,
                        project=project.name,
                        stack=stack,
                        config=config.values,
                        secret_keys=config.secret_keys,
                        handler=deployment.handle,
                        preview=preview,
                    )
                finally:
                    deployment.wait_idle(IN_FLIGHT_TIMEOUT)
                deployment.delete_undeclared()
                deployment.summary.outputs = result.outputs
                deployment.summary.warnings = result.warnings
                if not preview:
                    state.set_outputs(result.outputs)
            elif operation == "destroy":
                deployment.destroy()
            elif operation == "refresh":
                deployment.refresh()
                deployment.summary.outputs = state.outputs
            else:
                raise OfflineError(f"unknown operation {operation!r}")
        except ProviderHostError as exc:
            raise OfflineError(f"the provider failed: {_provider_message(exc)}") from None
    summary = deployment.summary
    _print_outputs(summary.outputs)
    _print_summary(operation, summary, preview, time.monotonic() - started)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localengine.offline", description=__doc__)
    parser.add_argument("operation", choices=["up", "preview", "refresh", "destroy", "output"])
    parser.add_argument("--stack", "-s", required=True)
    parser.add_argument("--cwd", default=".", help="the project directory (with Pulumi.yaml)")
    parser.add_argument("--state-dir", default=None, help=f"default: <cwd>/{DEFAULT_STATE_DIR}")
    parser.add_argument(
        "--secret-config",
        default=None,
        help="JSON file of secret config ({key: value}); its keys are marked secret",
    )
    parser.add_argument("--summary-json", default=None, help="also write the summary here")
    parser.add_argument(
        "--refresh", action="store_true", help="up/preview: read every resource back first"
    )
    parser.add_argument(
        "--expect-no-changes",
        action="store_true",
        help="fail if the operation changes (or, in preview, would change) any resource",
    )
    args = parser.parse_args(argv)
    project_dir = Path(args.cwd)
    state_dir = Path(args.state_dir) if args.state_dir else project_dir / DEFAULT_STATE_DIR
    if args.operation == "output":
        return print_stack_outputs(project_dir, args.stack, state_dir)
    try:
        summary = run(
            args.operation,
            project_dir=project_dir,
            stack=args.stack,
            state_dir=state_dir,
            secret_config=Path(args.secret_config) if args.secret_config else None,
            refresh=args.refresh,
        )
    except (OfflineError, ProgramError, StackConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary.to_json(), indent=2))
    if args.expect_no_changes and summary.changes:
        proposed = "proposed" if args.operation == "preview" else "occurred"
        print(f"error: no changes were expected but changes were {proposed}", file=sys.stderr)
        return 1
    return 0


def print_stack_outputs(project_dir: Path, stack: str, state_dir: Path) -> int:
    """`output`: the stack's outputs from the last up, as `pulumi stack output --json` prints
    them (nothing secret is in them; a secret output would read `[secret]`)."""
    try:
        project = load_project(project_dir)
    except StackConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    path = stack_state_path(state_dir, project.name, stack)
    outputs: Any = {}
    if path.exists():
        outputs = json.loads(path.read_text()).get("outputs") or {}
    print(json.dumps(outputs, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
