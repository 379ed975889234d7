"""Every relative link and anchor in the docs leads somewhere, and every project path or module
the docs name in code exists: a renamed file, page or heading must not leave a reader stranded."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests.support.helpers import PROJECT_ROOT
from tests.support.markdown_docs import MarkdownDoc, doc_files, guide_pages, relative

pytestmark = pytest.mark.timeout(30)
# A code span that is a path in the repository: it starts with one of the project's folders.
PROJECT_PATH = re.compile(
    r"(?:provider|tests|bench|demo|harness|useapi_emulator|stacks|tools|docs|\.github)/[\w./-]*"
)
# A code span that is a dotted name in one of the project's packages.
PROJECT_NAME = re.compile(r"(?:provider|useapi_emulator|harness|demo|bench)(?:\.[A-Za-z_]\w*)+")


def link_problems(doc: MarkdownDoc) -> list[str]:
    problems = []
    for target in doc.local_links():
        path_part, _, anchor = target.partition("#")
        path = doc.path if not path_part else (doc.path.parent / path_part).resolve()
        where = f"{doc.name}: link ({target})"
        if not path.is_relative_to(doc.root) or not path.exists():
            problems.append(f"{where} leads to no file")
        elif anchor and path.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not Markdown")
        elif anchor and anchor not in MarkdownDoc(path, doc.root).anchors:
            page = path.relative_to(doc.root)
            problems.append(f"{where}: {page} has no heading with that anchor")
    return problems


def name_problems(doc: MarkdownDoc) -> list[str]:
    problems = []
    for line, span in doc.code_spans:
        where = f"{doc.name}:{line}: `{span}`"
        if PROJECT_PATH.fullmatch(span) and not (PROJECT_ROOT / span).exists():
            problems.append(f"{where}: no such path in the repository")
        elif PROJECT_NAME.fullmatch(span) and not _resolves(span):
            problems.append(f"{where}: no such module or name")
    return problems


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


@pytest.mark.parametrize("path", doc_files(), ids=relative)
def test_every_relative_link_and_anchor_leads_somewhere(path: Path) -> None:
    assert link_problems(MarkdownDoc(path)) == []


@pytest.mark.parametrize("path", doc_files(), ids=relative)
def test_every_project_path_and_module_named_in_code_exists(path: Path) -> None:
    assert name_problems(MarkdownDoc(path)) == []


def test_the_readme_lists_every_page_of_the_guide() -> None:
    linked = {
        (PROJECT_ROOT / target.partition("#")[0]).resolve()
        for target in MarkdownDoc(PROJECT_ROOT / "README.md").local_links()
    }
    assert [relative(page) for page in guide_pages() if page not in linked] == []


def test_a_broken_link_a_missing_anchor_and_a_stale_path_are_caught(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Front\n")
    (tmp_path / "docs" / "conformance.md").write_text("# Conformance\n\n## POST /accounts\n")
    page = tmp_path / "docs" / "example.md"
    page.write_text(
        "# Example\n\n"
        "[fine](../README.md) [gone](no-such-page.md) [anchor](conformance.md#post-accounts)"
        " [bad anchor](conformance.md#no-such-heading) [self](#example) [self gone](#nowhere)"
        " [outside](../../etc/passwd) [web](https://useapi.net/docs)\n\n"
        "`provider/no_such_module.py`, `provider.host.settings.NO_SUCH_NAME`, "
        "`provider/host/settings.py`, `provider.host.settings.ALL_SETTINGS`\n"
    )
    doc = MarkdownDoc(page, tmp_path)
    assert link_problems(doc) == [
        "docs/example.md: link (no-such-page.md) leads to no file",
        "docs/example.md: link (conformance.md#no-such-heading): docs/conformance.md has no"
        " heading with that anchor",
        "docs/example.md: link (#nowhere): docs/example.md has no heading with that anchor",
        "docs/example.md: link (../../etc/passwd) leads to no file",
    ]
    assert [problem.split(": ", 2)[1] for problem in name_problems(doc)] == [
        "`provider/no_such_module.py`",
        "`provider.host.settings.NO_SUCH_NAME`",
    ]
