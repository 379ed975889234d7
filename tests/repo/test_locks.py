"""The locks are what installs (`make venv`: --require-hashes), and they stay what the
requirements files a person edits ask for. A requirements edit without `make lock`, a lock edited
into a state pip would refuse, or a venv that is not the lock's fails here, naming the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.helpers import PROJECT_ROOT
from tests.support.lock_check import (
    REGENERATE,
    installed_drift,
    lock_problems,
    read_lock,
)

pytestmark = pytest.mark.timeout(30)

LOCKS = {
    "requirements.txt": "requirements.lock.txt",
    "requirements-dev.txt": "requirements-dev.lock.txt",
}


@pytest.mark.parametrize(("requirements", "lock"), LOCKS.items())
def test_the_lock_matches_its_requirements_file(requirements: str, lock: str) -> None:
    problems = lock_problems(PROJECT_ROOT / requirements, PROJECT_ROOT / lock)
    assert not problems, (
        f"{lock} does not match {requirements}:\n  - " + "\n  - ".join(problems) + f"\n{REGENERATE}"
    )


def test_the_runtime_lock_pins_what_the_dev_lock_pins() -> None:
    """The tests run the versions that deploy: the runtime lock's pins bind the dev lock."""
    runtime, _ = read_lock(PROJECT_ROOT / "requirements.lock.txt")
    dev, _ = read_lock(PROJECT_ROOT / "requirements-dev.lock.txt")
    differ = sorted(
        f"{name}: {pin.version} in requirements.lock.txt, "
        + (f"{dev[name].version} in requirements-dev.lock.txt" if name in dev else "absent there")
        for name, pin in runtime.items()
        if name not in dev or (dev[name].version, dev[name].hashes) != (pin.version, pin.hashes)
    )
    assert not differ, "the two locks differ:\n  - " + "\n  - ".join(differ) + f"\n{REGENERATE}"


def test_the_venv_is_installed_from_the_dev_lock() -> None:
    drift = installed_drift(PROJECT_ROOT / "requirements-dev.lock.txt")
    assert not drift, (
        "venv/ is not what requirements-dev.lock.txt pins:\n  - "
        + "\n  - ".join(drift)
        + "\nReinstall it from the lock: `make -B venv`."
    )


def edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """Copies of the requirements files and locks, `old` replaced by `new` in one of them."""
    for other in (*LOCKS, *LOCKS.values()):
        (tmp_path / other).write_text((PROJECT_ROOT / other).read_text(encoding="utf-8"))
    text = (PROJECT_ROOT / name).read_text(encoding="utf-8")
    assert old in text, f"{name} no longer has {old!r}: update this test"
    (tmp_path / name).write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "old", "new", "problem"),
    [
        # A person adds a dependency and forgets `make lock`.
        ("requirements.txt", "requests>=", "never-locked>=1.0\nrequests>=", "never-locked>=1.0 is"),
        # A range moves past the locked version.
        ("requirements.txt", "urllib3>=2.8,<3", "urllib3>=2.99,<3", "the lock has urllib3=="),
        # A dependency is dropped: its pin, and what only it needed, linger in the lock.
        ("requirements-dev.txt", "matplotlib>=3.8", "", "matplotlib=="),
        # The lock loses its hashes: pip --require-hashes would refuse the whole file.
        ("requirements.lock.txt", "--hash=", "--no-hash=", "has no --hash"),
        # A package Dependabot bumped now needs one the lock lacks: drop one to stand for it.
        ("requirements.lock.txt", "\nsemver==", "\n# semver==", "semver (needed by pulumi)"),
    ],
)
def test_a_stale_lock_fails_naming_the_fix(
    tmp_path: Path, name: str, old: str, new: str, problem: str
) -> None:
    """The check can fail: each edit above makes `lock_problems` name it."""
    project = edited(tmp_path, name, old, new)
    requirements = "requirements-dev.txt" if "dev" in name else "requirements.txt"
    problems = lock_problems(project / requirements, project / LOCKS[requirements])
    assert any(problem in p for p in problems), problems
    assert "`make lock`" in REGENERATE
