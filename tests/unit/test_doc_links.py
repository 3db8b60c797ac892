"""Every relative link of README.md and docs/*.md names a file that exists, and an anchor
that one of its headings makes (GitHub's rule); the README points nowhere outside the
repository but the local server its tours start."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^\s*```")
_CODE_SPAN = re.compile(r"(`+).*?\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LOCAL = re.compile(r"^https?://(127\.0\.0\.1|localhost)(:\d+)?(/|$)")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code, with inline code spans blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        lines.append("" if fenced else _CODE_SPAN.sub("", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        heading = _HEADING.match(line)
        if fenced or not heading:
            continue
        base = slug(heading[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    found: list[str] = []
    for line in _prose(path.read_text()):
        found += _LINK.findall(line)
        found += _AUTOLINK.findall(line)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_name_files_and_headings_that_exist(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL: see the next test
        name, _, anchor = target.partition("#")
        linked = (page.parent / unquote(name)).resolve() if name else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and unquote(anchor) not in anchors(linked):
            broken.append(f"{target}: no heading makes #{anchor}")
        elif ROOT not in linked.parents and linked != ROOT:
            broken.append(f"{target}: outside the repository")
    assert broken == [], f"{page.relative_to(ROOT)}: {broken}"


def test_the_readme_points_nowhere_outside_the_repository() -> None:
    outside = [target for target in links(ROOT / "README.md")
               if re.match(r"^[a-z][a-z0-9+.-]*:", target) and not _LOCAL.match(target)]
    assert outside == []


def test_the_checks_see_what_they_check() -> None:
    readme = links(ROOT / "README.md")
    assert "docs/README.md" in readme and "docs/screenshots/status.png" in readme
    assert slug("Outage certificates (225/2009 Korm. r. 26. § (4), 27. § (3))") == (
        "outage-certificates-2252009-korm-r-26--4-27--3")
    assert slug("`kapu blobs gc`") == "kapu-blobs-gc"
    assert slug("Tartós tár (permanent storage, citizens)") == (
        "tartós-tár-permanent-storage-citizens")
