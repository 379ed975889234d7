"""docs/conformance.md names only tests that exist: a renamed test must not leave the table
pointing at nothing."""

from __future__ import annotations

import re

import pytest

from tests.support.helpers import PROJECT_ROOT

pytestmark = pytest.mark.timeout(10)
TABLE = PROJECT_ROOT / "docs" / "conformance.md"
# `module::test_name` (module as `test_x` or short for `test_conformance_x`'s `conformance_x`),
# or `::test_name` for the module named last.
REFERENCE = re.compile(r"`(\w+)?::(test_\w+)(?:\[[^\]`]*\])?`")


def _test_file(module: str) -> str:
    """The test module of that name wherever it lives under tests/ (module names are unique)."""
    name = module if module.startswith("test_") else f"test_{module}"
    found = sorted(PROJECT_ROOT.glob(f"tests/**/{name}.py"))
    assert len(found) == 1, f"{name}.py: {len(found)} test modules of that name under tests/"
    return str(found[0].relative_to(PROJECT_ROOT))


def test_every_test_the_table_names_exists() -> None:
    text = TABLE.read_text()
    module = None
    named = []
    for match in REFERENCE.finditer(text):
        module = match.group(1) or module
        assert module is not None, f"{match.group(0)} names no module"
        named.append((_test_file(module), match.group(2)))
    assert len(named) > 40
    missing = [
        f"{path}::{test}"
        for path, test in named
        if not re.search(rf"^def {test}\(", (PROJECT_ROOT / path).read_text(), re.MULTILINE)
    ]
    assert missing == []


def test_the_readme_and_the_errors_page_link_the_table() -> None:
    """The front page's guide lists it; the errors page holds its summary."""
    assert "(docs/conformance.md)" in (PROJECT_ROOT / "README.md").read_text()
    assert "(conformance.md)" in (PROJECT_ROOT / "docs" / "errors.md").read_text()
