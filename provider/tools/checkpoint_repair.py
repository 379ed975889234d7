"""A checkpoint that a killed CLI left unloadable on the file backend, and its repair.

The file backend stores through gocloud.dev's fileblob (v0.46, `blob/fileblob`). Every write of
a key (the checkpoint `<stack>.json`, its `.bak`, a lock) goes: the bytes into a temp file beside
it, then `setAttrs` writes the sidecar `<key>.attrs` (content type, MD5) with `os.Create`, which
truncates the existing sidecar before writing the new one, then the temp file is renamed over the
key. The checkpoint itself is therefore never torn, but a SIGKILL between that truncate and the
write leaves `<stack>.json.attrs` empty; every read of the key decodes the sidecar first and fails
with io.EOF, so `pulumi stack export`, `refresh` and `up` all stop with "failed to load
checkpoint: EOF" until it is repaired. The checkpoint beside it is whole: the state of the last
save that completed (the one being written is in the temp file, never renamed). Removing the torn
sidecar is the whole repair (fileblob reads a key without one as `application/octet-stream`, and
the next save writes a new one); the recovery then refreshes as usual. The same window shows for
a moment to any reader while a live run saves (a recovery's refresh beside a live `up` met it in
the test suite), so the recovery reads again before it takes the sidecar for torn.

A checkpoint whose own bytes do not load cannot come from a kill (the rename is atomic); it is
not repaired here: the recovery stops with the exact commands to restore the previous save, the
`.bak` the backend keeps beside it.

Object stores keep an object's metadata with the object and replace both in one PUT: a killed CLI
leaves the old checkpoint or the new one, never a torn one.
"""

from __future__ import annotations

import gzip
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

ATTRS = ".attrs"


@dataclass(frozen=True)
class CheckpointRepair:
    repaired: list[str]  # what was done, one line each
    commands: list[str]  # for a person: the exact commands, when nothing could be done here


def checkpoint_files(backend_url: str, project: str, stack: str) -> list[Path]:
    """The checkpoint files a file:// backend may hold for the stack (project-scoped layout,
    then the legacy one), those that exist."""
    parts = urlsplit(backend_url)
    if parts.scheme != "file":
        return []
    root = Path(unquote(parts.path)) / ".pulumi" / "stacks"
    name = stack.rsplit("/", 1)[-1]
    found = []
    for folder in (root / project, root):
        for suffix in (".json", ".json.gz", ".json.zst"):
            path = folder / f"{name}{suffix}"
            if path.is_file():
                found.append(path)
    return found


def _json_loads(raw: bytes) -> bool:
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        json.loads(raw)
        return True
    except (ValueError, OSError, EOFError):
        return False


def _sidecar_torn(path: Path) -> bool:
    sidecar = path.with_name(path.name + ATTRS)
    try:
        raw = sidecar.read_bytes()
    except FileNotFoundError:
        return False
    try:
        return not isinstance(json.loads(raw), dict)
    except ValueError:
        return True


def _backups(path: Path) -> Path:
    """`.pulumi/backups/<project>/<stack>/`: a copy of the checkpoint after each update."""
    pulumi_dir = next((p for p in path.parents if p.name == ".pulumi"), path.parent)
    try:
        scope = path.parent.relative_to(pulumi_dir / "stacks")
    except ValueError:
        scope = Path()
    return pulumi_dir / "backups" / scope / path.name.split(".", 1)[0]


def repair_checkpoint(files: list[Path]) -> CheckpointRepair:
    """Remove each torn sidecar beside a checkpoint (and its `.bak`) whose bytes load; for a
    checkpoint whose bytes do not load, the commands that restore its `.bak`."""
    repaired: list[str] = []
    commands: list[str] = []
    for path in files:
        for key in (path, path.with_name(path.name + ".bak")):
            if key.is_file() and _sidecar_torn(key) and _json_loads(key.read_bytes()):
                key.with_name(key.name + ATTRS).unlink()
                repaired.append(
                    f"{key.name}{ATTRS} was torn (a CLI killed while saving state truncated it); "
                    f"removed it: {key.name} itself is whole and was left as it is"
                )
        if _json_loads(path.read_bytes()):
            continue
        backup = path.with_name(path.name + ".bak")
        if backup.is_file() and _json_loads(backup.read_bytes()):
            commands += [
                f"cp -p {shlex.quote(str(path))} {shlex.quote(str(path))}.unloadable",
                f"cp {shlex.quote(str(backup))} {shlex.quote(str(path))}",
                f"rm -f {shlex.quote(str(path) + ATTRS)}",
            ]
        else:
            commands.append(
                f"# neither {path} nor its .bak loads: copy the newest file of "
                f"{_backups(path)} that loads over it"
            )
    return CheckpointRepair(repaired, commands)
