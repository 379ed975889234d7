"""The project's Markdown docs as the doc tests read them: prose, code, links and anchors.

GitHub renders these files, so links and anchors are resolved the way GitHub resolves them
(a heading's anchor is its text lower-cased, punctuation dropped, spaces turned to hyphens,
`-1`, `-2` … for repeats). Code is what a reader copies into a terminal: the inline code spans
of the prose and every line of the fenced blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tests.support.helpers import PROJECT_ROOT

GUIDE_DIR = PROJECT_ROOT / "docs"
# The guide's reference pages: every config key the code reads has a row in one of them.
REFERENCE_PAGES = (GUIDE_DIR / "inventory.md", GUIDE_DIR / "resource.md")

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# A backtick run, the shortest text after it, and the same run again (CommonMark's code span).
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_PARAGRAPH = re.compile(r"(?:[^\n]|\n(?![ \t]*\n))+")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


@dataclass(frozen=True)
class Fenced:
    """A fenced code block: its info string's language, its lines, the line it starts on."""

    language: str
    lines: tuple[str, ...]
    line: int
    before: str  # the prose just above it, back to the previous block or heading


def doc_files() -> list[Path]:
    """Every Markdown file a reader of the repository is pointed at."""
    top = [PROJECT_ROOT / name for name in ("README.md", "SECURITY.md")]
    return [*top, *sorted(GUIDE_DIR.rglob("*.md")), PROJECT_ROOT / "bench" / "README.md"]


def guide_pages() -> list[Path]:
    return sorted(GUIDE_DIR.rglob("*.md"))


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


class MarkdownDoc:
    """One Markdown file, split into prose and fenced code."""

    def __init__(self, path: Path, root: Path = PROJECT_ROOT) -> None:
        self.path = path
        self.root = root  # the repository the file is in: links may not leave it
        self.name = str(path.relative_to(root))
        self.text = path.read_text(encoding="utf-8")

    @cached_property
    def _split(self) -> tuple[str, tuple[Fenced, ...]]:
        """The prose (fenced lines blanked, so line numbers hold) and the fenced blocks."""
        prose: list[str] = []
        blocks: list[Fenced] = []
        fence: str | None = None
        language = ""
        body: list[str] = []
        start = 0
        since: list[str] = []  # prose since the last block or heading
        for number, line in enumerate(self.text.splitlines(), 1):
            opening = _FENCE.match(line)
            if fence is None and opening:
                fence, language, body, start = opening.group(2), opening.group(3), [], number
                prose.append("")
            elif fence is not None:
                if line.strip() and line.strip().strip(fence[0]) == "":
                    blocks.append(Fenced(language, tuple(body), start, "\n".join(since).strip()))
                    fence, since = None, []
                else:
                    body.append(line)
                prose.append("")
            else:
                prose.append(line)
                since = [] if _HEADING.match(line) else [*since, line]
        assert fence is None, f"{self.name}:{start}: a code block is never closed"
        return "\n".join(prose), tuple(blocks)

    @property
    def prose(self) -> str:
        return self._split[0]

    @property
    def fenced(self) -> tuple[Fenced, ...]:
        return self._split[1]

    @cached_property
    def code_spans(self) -> list[tuple[int, str]]:
        """Inline code of the prose with its line, each on one line (a span may wrap)."""
        spans = []
        for paragraph in _PARAGRAPH.finditer(self.prose):
            first = self.prose.count("\n", 0, paragraph.start()) + 1
            for match in _CODE_SPAN.finditer(paragraph.group(0)):
                line = first + paragraph.group(0).count("\n", 0, match.start())
                spans.append((line, re.sub(r"\s*\n\s*", " ", match.group(2)).strip()))
        return spans

    def code(self) -> list[tuple[str, str]]:
        """Every piece of code a reader may copy, with where it is (`file:line`): the inline
        spans, then each line of the fenced blocks."""
        name = self.name
        found = [(f"{name}:{line}", text) for line, text in self.code_spans]
        for block in self.fenced:
            found += [(f"{name}:{block.line + i}", text) for i, text in enumerate(block.lines, 1)]
        return found

    @cached_property
    def anchors(self) -> set[str]:
        seen: dict[str, int] = {}
        found = set()
        for line in self.prose.splitlines():
            match = _HEADING.match(line)
            if not match:
                continue
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        return found

    def links(self) -> list[str]:
        """Every link target of the prose (inline and reference-style), code spans left out."""
        prose = _CODE_SPAN.sub("", self.prose)
        targets = [match.group(2) for match in _LINK.finditer(prose)]
        targets += _REFERENCE_DEFINITION.findall(prose)
        return targets

    def local_links(self) -> list[str]:
        return [target for target in self.links() if not _EXTERNAL.match(target)]
