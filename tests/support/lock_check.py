"""Does a lock (requirements*.lock.txt) still match the requirements file it was made from?

`make lock` writes the locks with uv; Dependabot then edits them line by line (a package's pin
and hashes). So "matches" is what both must keep true, judged without the package index:

- every package the requirements file asks for is locked at a version its range admits;
- the lock holds exactly what those packages need, no more and no less, by the metadata of
  the packages installed here (the venv is installed from the lock, so they are the locked
  versions; `installed_drift` says when it is not);
- one pin per package, each `==` with at least one hash (what `pip --require-hashes` needs).

Entries whose environment marker is false here (a Windows-only package) are not installed
here, so their needs cannot be read: they are left to uv, which wrote them.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# What to do about any problem found here: the one command that regenerates both locks.
REGENERATE = "Regenerate the locks with `make lock`, then commit requirements*.lock.txt."
HEADER = "#    make lock"
TOP_LEVEL = "the requirements file"


@dataclass(frozen=True)
class Pin:
    """One locked package: `name==version ; marker --hash=...`."""

    name: str
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies_here(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def logical_lines(path: Path) -> list[str]:
    """The file's lines as pip reads them: continuations joined, comments dropped."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def read_requirements(path: Path) -> list[Requirement]:
    """A requirements file a person edits, following `-r`; any other option fails loudly."""
    found: list[Requirement] = []
    for line in logical_lines(path):
        option, _, argument = line.partition(" ")
        if option in ("-r", "--requirement"):
            found += read_requirements(path.parent / argument.strip())
        elif line.startswith("-"):
            raise AssertionError(f"{path.name}: the lock check cannot read the option {line!r}")
        else:
            found.append(Requirement(line))
    return found


def read_lock(path: Path) -> tuple[dict[str, Pin], list[str]]:
    """The lock's pins by canonical name, and what is wrong with its form."""
    pins: dict[str, Pin] = {}
    problems: list[str] = []
    if HEADER not in path.read_text(encoding="utf-8").splitlines()[:3]:
        problems.append("its header does not name `make lock` (written by hand?)")
    for line in logical_lines(path):
        words = line.split()
        options = [w for w in words if w.startswith("-")]
        hashes = tuple(w.removeprefix("--hash=") for w in options if w.startswith("--hash="))
        requirement = Requirement(" ".join(w for w in words if not w.startswith("-")))
        name = canonicalize_name(requirement.name)
        problems += [
            f"{name} has an option the lock must not: {w}" for w in options if w[:7] != "--hash="
        ]
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            problems.append(f"{requirement} is not pinned with ==")
            continue
        if not hashes:
            problems.append(f"{name} has no --hash")
        if name in pins:
            problems.append(f"{name} is locked twice (Dependabot updates one line per package)")
        pins[name] = Pin(name, Version(specifiers[0].version), requirement.marker, hashes)
    return pins, problems


def applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether a requirement is needed here, for a package installed with these extras."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras})


def needed(requirements: list[Requirement]) -> dict[str, str]:
    """Every package these requirements need here, through the installed packages' metadata,
    each with one package that needs it ("the requirements file" for the top level)."""
    wanted: dict[str, str] = {}
    extras: dict[str, frozenset[str]] = {}
    queue = [(r, TOP_LEVEL) for r in requirements if applies(r, frozenset())]
    while queue:
        requirement, parent = queue.pop()
        name = canonicalize_name(requirement.name)
        more = frozenset(requirement.extras) - extras.get(name, frozenset())
        if name in wanted and not more:
            continue
        wanted.setdefault(name, parent)
        extras[name] = extras.get(name, frozenset()) | more
        try:
            dependencies = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed: installed_drift names it
        for dependency in map(Requirement, dependencies):
            if applies(dependency, extras[name]):
                queue.append((dependency, name))
    return wanted


def lock_problems(requirements_file: Path, lock_file: Path) -> list[str]:
    """Why `lock_file` no longer matches `requirements_file` (empty: it matches)."""
    pins, problems = read_lock(lock_file)
    requirements = read_requirements(requirements_file)
    for requirement in requirements:
        name = str(canonicalize_name(requirement.name))
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"the lock has {name}=={pin.version}; the file asks for {requirement}")
    wanted = needed(requirements)
    problems += [
        f"{name} (needed by {parent}) is not in the lock"
        for name, parent in sorted(wanted.items())
        if name not in pins and parent != TOP_LEVEL  # a requested one is named above
    ]
    problems += [
        f"{name}=={pin.version} is locked but nothing needs it any more"
        for name, pin in sorted(pins.items())
        if pin.applies_here() and name not in wanted
    ]
    return problems


def installed_drift(lock_file: Path) -> list[str]:
    """Locked packages that are installed here at another version, or not at all."""
    pins, _ = read_lock(lock_file)
    drift = []
    for name, pin in sorted(pins.items()):
        if not pin.applies_here():
            continue
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            drift.append(f"{name}=={pin.version} is not installed")
            continue
        if installed != pin.version:
            drift.append(f"{name} is installed at {installed}, locked at {pin.version}")
    return drift
