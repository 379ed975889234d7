"""The engine's bookkeeping, modelled for fault and secret tests.

`SimulatedStack` plays what `pulumi up` / `pulumi refresh` do with a stack's state: one fresh
provider host per operation (the engine starts one per deployment), check → create, or
check → diff → update, for every declared account with up to four calls at once (as
`--parallel 4` sends them), a failed create leaving nothing in state, and refresh writing back
what Read returns. `engine_state_document` renders that state the way the engine persists it: every
value the engine would encrypt is replaced by a ciphertext marker, so a sentinel found in
the rest of the document is a secret stored in plaintext.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from harness import ProviderHost, ProviderHostError
from provider.host.account_provider import SECRET_PROPS
from tests.support.helpers import account_inputs

# What the engine encrypts: outputs named in `additional_secret_outputs`, and any input or
# output whose same-named input the program sent as a secret. `PixVerseAccount` does both
# for exactly these properties (tests/test_secrets.py proves it under set_mocks).
ENGINE_SECRET_KEYS = frozenset(SECRET_PROPS)
CIPHERTEXT = "<ciphertext>"
# How a secret looks in a checkpoint: the SDK's signature key and secret signature.
SECRET_ENVELOPE = {
    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
    "ciphertext": CIPHERTEXT,
}
PROVIDER_KEY = "__provider"
HOST_PARALLELISM = 4  # the engine's steps at once, here


@dataclass
class StateEntry:
    """One resource in the stack's state."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class RunResult:
    """What one `pulumi up` did, per resource name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


HostStarter = Callable[[dict[str, str]], ProviderHost]


class SimulatedStack:
    """A stack's state and the operations that change it, driven through real provider hosts."""

    def __init__(self, start_host: HostStarter, config: dict[str, str]) -> None:
        self._start_host = start_host
        self.config = config
        self.state: dict[str, StateEntry] = {}
        self.hosts: list[ProviderHost] = []
        self.errors: list[str] = []  # every error text the engine would have shown
        self._lock = threading.Lock()

    def _host(self) -> ProviderHost:
        host = self._start_host(self.config)
        self.hosts.append(host)
        return host

    # -- pulumi up ----------------------------------------------------------------------------

    def up(self, desired: Mapping[str, Mapping[str, Any]]) -> RunResult:
        """Converge on `desired` (name → engine-side inputs, `__provider` included)."""
        host = self._host()
        result = RunResult()
        with ThreadPoolExecutor(HOST_PARALLELISM) as pool:
            list(pool.map(lambda item: self._step(host, result, *item), desired.items()))
        for name in sorted(set(self.state) - set(desired)):
            self._delete(host, result, name)
        for names in (result.created, result.updated, result.unchanged, result.deleted):
            names.sort()
        return result

    def _fail(self, result: RunResult, name: str, text: str) -> None:
        with self._lock:
            result.failed[name] = text
            self.errors.append(text)

    def _step(
        self, host: ProviderHost, result: RunResult, name: str, news: Mapping[str, Any]
    ) -> None:
        old = self.state.get(name)
        try:
            checked = host.check(name, old.inputs if old else {}, news)
            if checked.failures:
                self._fail(result, name, "; ".join(f"{p}: {r}" for p, r in checked.failures))
                return
            if old is None:
                id_, outs = host.create(name, checked.inputs)
                with self._lock:
                    self.state[name] = StateEntry(id_, checked.inputs, outs)
                    result.created.append(name)
                return
            diff = host.diff(old.id, name, old.outputs, checked.inputs)
            if not diff.has_changes:
                with self._lock:
                    result.unchanged.append(name)
                return
            if diff.replaces:
                host.delete(old.id, name, old.outputs)
                with self._lock:
                    del self.state[name]
                id_, outs = host.create(name, checked.inputs)
                with self._lock:
                    self.state[name] = StateEntry(id_, checked.inputs, outs)
                    result.created.append(name)
                return
            outs = host.update(old.id, name, old.outputs, checked.inputs)
            with self._lock:
                self.state[name] = StateEntry(old.id, checked.inputs, outs)
                result.updated.append(name)
        except ProviderHostError as exc:
            # The engine keeps the last good state of a resource whose operation failed.
            self._fail(result, name, exc.details)

    def _delete(self, host: ProviderHost, result: RunResult, name: str) -> None:
        entry = self.state[name]
        try:
            host.delete(entry.id, name, entry.outputs)
        except ProviderHostError as exc:
            self._fail(result, name, exc.details)
            return
        del self.state[name]
        result.deleted.append(name)

    def destroy(self) -> RunResult:
        return self.up({})

    # -- pulumi refresh -----------------------------------------------------------------------

    def refresh(self) -> dict[str, str]:
        """Read every resource back; name → "gone", "changed" or "same" (or the error text)."""
        host = self._host()
        seen: dict[str, str] = {}
        for name, entry in sorted(self.state.items()):
            try:
                read = host.read(entry.id, name, entry.outputs, entry.inputs)
            except ProviderHostError as exc:
                self.errors.append(exc.details)
                seen[name] = exc.details
                continue
            if not read.id:
                del self.state[name]
                seen[name] = "gone"
                continue
            changed = read.outputs != entry.outputs
            entry.outputs = read.outputs
            if read.inputs is not None:
                entry.inputs = read.inputs
            seen[name] = "changed" if changed else "same"
        return seen

    # -- what the engine would persist ---------------------------------------------------------

    def document(self) -> dict[str, Any]:
        return engine_state_document(self.state)

    def host_output(self) -> str:
        return "\n".join(host.stdout + host.stderr for host in self.hosts)


def desired_accounts(emails: Iterable[str], **overrides: Any) -> dict[str, dict[str, Any]]:
    return {email: account_inputs(email=email, **overrides) for email in emails}


def _encrypt_secrets(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (SECRET_ENVELOPE if key in ENGINE_SECRET_KEYS and value is not None else value)
        for key, value in props.items()
    }


def engine_state_document(state: Mapping[str, StateEntry]) -> dict[str, Any]:
    """The state as the engine writes it: secret values encrypted, everything else plain.

    `__provider` is plain too (serialize_as_secret_always = False), so it is decoded here:
    what the pickle holds is part of the readable state.
    """
    resources = []
    for name, entry in sorted(state.items()):
        resources.append(
            {
                "urn": name,
                "id": entry.id,
                "inputs": _encrypt_secrets(entry.inputs),
                "outputs": _encrypt_secrets(entry.outputs),
                "provider_pickle": [
                    base64.b64decode(props[PROVIDER_KEY]).decode("latin-1")
                    for props in (entry.inputs, entry.outputs)
                    if isinstance(props.get(PROVIDER_KEY), str)
                ],
            }
        )
    return {"resources": resources}


def plaintext(document: Any) -> str:
    """Everything readable in a state document, as one string to search."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, default=repr)


def secret_values(state: Mapping[str, StateEntry]) -> list[Any]:
    """The values the engine encrypts: the only places a password may legitimately be."""
    return [
        props[key]
        for entry in state.values()
        for props in (entry.inputs, entry.outputs)
        for key in ENGINE_SECRET_KEYS
        if key in props
    ]
