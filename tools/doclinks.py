"""Checks that every relative link in README.md and docs/*.md resolves: the file exists
and, for a link with an anchor, the target file has a heading with that anchor (GitHub's
rule: lower case, punctuation dropped, spaces to hyphens, duplicates numbered).

Run: python tools/doclinks.py [ROOT]   (exit 1 and one line per broken link)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def outside_code(text: str):
    """The lines of a Markdown file that are not in a fenced code block."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in outside_code(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = anchor(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(root: Path) -> list[str]:
    documents = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    problems = []
    for document in documents:
        if not document.exists():
            continue
        for number, line in enumerate(outside_code(document.read_text(encoding="utf-8")), 1):
            for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue  # http:, https:, mailto: are not checked here
                path, _, fragment = target.partition("#")
                resolved = (document.parent / path).resolve() if path else document
                where = f"{document.relative_to(root)}: {target}"
                if not resolved.exists():
                    problems.append(f"{where}: no such file")
                elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                    problems.append(f"{where}: no heading #{fragment} in {resolved.relative_to(root)}")
    return problems


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    problems = broken_links(root)
    for problem in problems:
        print(f"doclinks: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
