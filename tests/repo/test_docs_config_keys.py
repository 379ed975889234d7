"""The config keys the docs name are the ones the code reads, and the reference lists them all:
a key renamed in the code, or added without a row in the reference, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provider.host.settings import ALL_SETTINGS
from tests.support.code_config_keys import ENV, KEY, keys_the_code_reads, read_in
from tests.support.markdown_docs import REFERENCE_PAGES, doc_files, relative

pytestmark = pytest.mark.timeout(30)
CODE_KEYS, CODE_ENV = keys_the_code_reads()


def named_in(text: str) -> tuple[set[str], set[str]]:
    return set(KEY.findall(text)), set(ENV.findall(text))


def unread(path: Path) -> list[str]:
    keys, env = named_in(path.read_text(encoding="utf-8"))
    return sorted((keys - CODE_KEYS) | (env - CODE_ENV))


def unlisted(pages: tuple[Path, ...] = REFERENCE_PAGES) -> list[str]:
    """Keys and variables the code reads without a table row of their own in the reference (the
    row starts with the key in code, `` | `useapi:timeout` ``; the variable may sit anywhere in
    a row)."""
    rows = [
        line
        for page in pages
        for line in page.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith("|")
    ]
    missing = [
        key
        for key in CODE_KEYS
        if not any(re.match(rf"\|\s*`{re.escape(key)}`", row.strip()) for row in rows)
    ]
    missing += [name for name in CODE_ENV if not any(f"`{name}`" in row for row in rows)]
    return sorted(missing)


def test_the_code_scan_finds_what_the_provider_reads() -> None:
    """The scan itself: every provider setting, and the keys `__main__.py` reads from config."""
    assert {setting.key for setting in ALL_SETTINGS} <= CODE_KEYS
    assert {setting.env for setting in ALL_SETTINGS} == CODE_ENV
    program_keys, _ = read_in(Path(__file__).resolve().parents[2] / "__main__.py")
    assert "pixverse-accounts:accounts" in program_keys and len(program_keys) >= 5


@pytest.mark.parametrize("path", doc_files(), ids=relative)
def test_every_config_key_the_docs_name_is_read_by_the_code(path: Path) -> None:
    assert unread(path) == []


def test_the_reference_lists_every_key_the_code_reads() -> None:
    assert unlisted() == []


def test_a_fake_key_and_an_unlisted_one_are_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Set `useapi:timeout` (USEAPI_TIMEOUT), `useapi:retryBudget` or USEAPI_RETRY_BUDGET, and "
        "`pixverse-accounts:minCredit`; the defaults are `https://api.useapi.net/v2`.\n"
    )
    assert unread(page) == [
        "USEAPI_RETRY_BUDGET",
        "pixverse-accounts:minCredit",
        "useapi:retryBudget",
    ]
    reference = tmp_path / "reference.md"
    reference.write_text(
        "| key | env |\n| --- | --- |\n"
        + "".join(f"| `{key}` | |\n" for key in sorted(CODE_KEYS) if key != "useapi:timeout")
        + "".join(f"| | `{name}` |\n" for name in sorted(CODE_ENV))
        + "Prose naming `useapi:timeout` is not a row of the reference.\n"
    )
    assert unlisted((reference,)) == ["useapi:timeout"]
