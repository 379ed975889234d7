"""The shape the docs promise: a short front page that starts with the two commands a newcomer
types, guide pages that start with what the reader will have at the end, and every example of
output saying how it was produced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.helpers import PROJECT_ROOT
from tests.support.markdown_docs import Fenced, MarkdownDoc, guide_pages, relative

pytestmark = pytest.mark.timeout(10)
README = PROJECT_ROOT / "README.md"
FRONT_PAGE_LINES = 150
OUTCOME = "**At the end:**"
# Blocks that show what a command printed (commands themselves go in `sh` blocks).
OUTPUT_LANGUAGES = ("console", "markdown", "text")


def test_the_front_page_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= FRONT_PAGE_LINES


def test_the_front_page_starts_with_the_two_commands_of_a_newcomer() -> None:
    """CI and reviewers look at the top: the first block holds `make up` and `make test`."""
    first = MarkdownDoc(README).fenced[0]
    assert first.line <= 5
    commands = [line.split("#")[0].split() for line in first.lines]
    assert ["make", "up"] in commands and ["make", "test"] in commands


def outcome_problem(doc: MarkdownDoc) -> str | None:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", doc.prose) if p.strip()]
    if len(paragraphs) < 2 or not paragraphs[0].startswith("# "):
        return f"{doc.name}: a page starts with its title"
    if not paragraphs[1].startswith(OUTCOME):
        return f"{doc.name}: the paragraph under the title starts with {OUTCOME}"
    return None


def provenance_problems(doc: MarkdownDoc) -> list[str]:
    return [
        f"{doc.name}:{block.line}: say above this {block.language} block how it was produced"
        for block in doc.fenced
        if _shows_output(block) and "produced" not in block.before.lower()
    ]


def _shows_output(block: Fenced) -> bool:
    return block.language in OUTPUT_LANGUAGES


@pytest.mark.parametrize("path", guide_pages(), ids=relative)
def test_each_guide_page_starts_with_what_the_reader_will_have(path: Path) -> None:
    assert outcome_problem(MarkdownDoc(path)) is None


@pytest.mark.parametrize("path", [README, *guide_pages()], ids=relative)
def test_each_example_of_output_says_how_it_was_produced(path: Path) -> None:
    assert provenance_problems(MarkdownDoc(path)) == []


def test_a_page_without_its_outcome_or_an_output_without_its_origin_is_caught(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\nSome text.\n\nProduced by running `make up`:\n\n```console\nok\n```\n\n"
        "## Later\n\nNothing said.\n\n```console\n$ make drift\n```\n\n```sh\nmake up\n```\n"
    )
    doc = MarkdownDoc(page, tmp_path)
    assert outcome_problem(doc) == f"page.md: the paragraph under the title starts with {OUTCOME}"
    assert provenance_problems(doc) == [
        "page.md:15: say above this console block how it was produced"
    ]
