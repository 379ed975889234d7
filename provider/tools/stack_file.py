"""A stack file (`stacks/Pulumi.<stack>.yaml`) as a document people wrote: read it, and add
accounts to its inventory without disturbing anything else.

The file is reviewed in pull requests and commented by hand, so a tool that rewrites it must
keep every existing entry, their order, the comments and the quoting, and change only the
lines it adds. ruamel.yaml round-trips all of that (PyYAML would drop the comments); the one
thing it gets wrong is a comment block that follows the inventory's last entry, which it
keeps attached to that entry, so new entries would land below the comment. `add_accounts`
moves such a trailing block below the new entries.

Only plain values are read. Encrypted (`secure:`) values stay as the CLI wrote them: this
module never decrypts, reads or writes a password.
"""

from __future__ import annotations

import copy
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from ..program.inventory import ACCOUNTS_KEY, PROJECT

CONFIG = "config"
# Long secure: values and comments must never be folded onto a second line.
LINE_WIDTH = 4096


class StackFileError(ValueError):
    """The stack file is missing or is not a Pulumi stack file; the message names the file."""


def namespaced(key: str) -> str:
    """`accounts` → `pixverse-accounts:accounts`; `useapi:token` stays as it is (the CLI's own
    reading of a stack file's keys)."""
    return key if ":" in key else f"{PROJECT}:{key}"


def stack_config_dir(project_dir: Path) -> Path:
    """The project's `stackConfigDir` (`Pulumi.yaml`), where the CLI keeps the stack files."""
    project_file = project_dir / "Pulumi.yaml"
    try:
        data = yaml.safe_load(project_file.read_text()) or {}
    except FileNotFoundError:
        raise StackFileError(f"{project_file} does not exist: run this in the project") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{project_file} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or data.get("name") != PROJECT:
        raise StackFileError(f"{project_file} is not the {PROJECT} project's")
    return project_dir / str(data.get("stackConfigDir") or ".")


def stack_file_path(project_dir: Path, stack: str) -> Path:
    """Where the CLI keeps a stack's config: `<stackConfigDir>/Pulumi.<name>.yaml`, where an
    organisation-qualified stack (`my-org/prod`) uses its last part."""
    return stack_config_dir(project_dir) / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"


def is_secure(value: Any) -> bool:
    """`{secure: v1:...}`: a value only the Pulumi CLI can decrypt."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _last_leaf(node: CommentedMap) -> tuple[CommentedMap, Any] | None:
    """The mapping and key that end `node`: where ruamel keeps the comment lines after it."""
    while len(node):
        key = list(node.keys())[-1]
        value = node[key]
        if not isinstance(value, CommentedMap) or not len(value):
            return node, key
        node = value
    return None


def _split_trailing_comment(node: CommentedMap) -> Any:
    """Detach the comment lines that follow `node`'s last entry and return them as a token;
    an end-of-line comment on that entry's own line stays where it is."""
    leaf = _last_leaf(node)
    if leaf is None:
        return None
    owner, key = leaf
    slots = owner.ca.items.get(key)
    if not slots or len(slots) < 3 or slots[2] is None:
        return None
    token = slots[2]
    text = str(token.value)
    first, newline, rest = text.partition("\n")
    if not newline or not rest:
        return None  # only an end-of-line comment: nothing follows the entry
    moved = copy.copy(token)
    moved.value = "\n" + rest
    if first.strip():
        token.value = first + "\n"
    else:
        slots[2] = None
    return moved


def _attach_trailing_comment(node: CommentedMap, token: Any) -> None:
    leaf = _last_leaf(node)
    if leaf is None or token is None:
        return
    owner, key = leaf
    slots = owner.ca.items.setdefault(key, [None, None, None, None])
    while len(slots) < 3:
        slots.append(None)
    slots[2] = token


class StackFile:
    """One stack file, parsed so that it can be written back exactly as it was plus edits."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        try:
            _, indent, block_seq_indent = load_yaml_guess_indent(text)
            self._yaml = YAML()  # round-trip mode
            self._yaml.preserve_quotes = True
            self._yaml.width = LINE_WIDTH
            indent = indent or 2
            offset = block_seq_indent or 0
            self._yaml.indent(mapping=indent, sequence=indent + offset, offset=offset)
            data = self._yaml.load(text)
        except YAMLError as exc:
            raise StackFileError(f"{path} is not valid YAML: {exc}") from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise StackFileError(f"{path} must be a map with a `config:` key")
        self._data = data

    @classmethod
    def load(cls, path: Path) -> StackFile:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise StackFileError(
                f"{path} does not exist: create the stack first (`pulumi stack init`), or copy "
                "stacks/Pulumi.dev.yaml.example"
            ) from None
        return cls(path, text)

    # -- reading ------------------------------------------------------------------------------

    def _config(self) -> Mapping[Any, Any]:
        config = self._data.get(CONFIG)
        if config is None:
            return {}
        if not isinstance(config, Mapping):
            raise StackFileError(f"`{CONFIG}` in {self.path} must be a map of config keys")
        return config

    def _config_key(self, key: str) -> Any:
        """The key as it is spelled in the file (`accounts` or `pixverse-accounts:accounts`)."""
        wanted = namespaced(key)
        for present in self._config():
            if namespaced(str(present)) == wanted:
                return present
        return None

    def value(self, key: str) -> Any:
        """A config value as written (a `{secure: ...}` map stays one), or None."""
        present = self._config_key(key)
        return None if present is None else self._config()[present]

    def accounts(self) -> Mapping[Any, Any]:
        """The inventory as written (email → entry); empty when the file declares none."""
        accounts = self.value(ACCOUNTS_KEY)
        return accounts if isinstance(accounts, Mapping) else {}

    # -- writing ------------------------------------------------------------------------------

    def add_accounts(self, entries: Mapping[str, int]) -> None:
        """Append `email: {maxJobs: n}` entries, in the order given, after the existing ones."""
        if not entries:
            return
        config = self._data.get(CONFIG)
        if config is None:
            config = self._data[CONFIG] = CommentedMap()
        if not isinstance(config, CommentedMap):
            raise StackFileError(f"`{CONFIG}` in {self.path} must be a map of config keys")
        key = self._config_key(ACCOUNTS_KEY) or ACCOUNTS_KEY
        accounts = config.get(key)
        if accounts is None:
            accounts = config[key] = CommentedMap()
        if not isinstance(accounts, CommentedMap):
            raise StackFileError(f"`{ACCOUNTS_KEY}` in {self.path} must be a map of email → entry")
        if not len(accounts):
            accounts.fa.set_block_style()  # `accounts: {}` grows into an indented block
        trailing = _split_trailing_comment(accounts)
        for email, max_jobs in entries.items():
            entry = CommentedMap()
            entry["maxJobs"] = max_jobs
            accounts[email] = entry
        _attach_trailing_comment(accounts, trailing)

    def text(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self._data, out)
        return out.getvalue()

    def save(self) -> None:
        """Write atomically, keeping the file's permissions."""
        text = self.text()
        tmp = self.path.with_name(self.path.name + ".tmp")
        mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, self.path)
