"""Checks the crate's layering: the pipeline folders of function/src import downward only.

Each top-level module of the crate (presence, announcements, count, history, ingest, paging,
shared, roles) is a node; a `crate::X` path in a line of code (comments and doc links do
not count: they compile to nothing) of a file under `src/Y/` (or `src/Y.rs`) is an edge
Y -> X. The check fails on any cycle between modules, naming it, and on `shared` using any
pipeline (it is the bottom layer). Run: python tools/layers.py [function/src]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PATH = re.compile(r"\bcrate::([a-z_]+)")
BOTTOM = "shared"


def code_lines(text: str):
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield line.split("//", 1)[0]


def edges(src: Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        relative = path.relative_to(src)
        if relative.parts[0] == "bin" or relative.name in ("lib.rs", "main.rs"):
            continue
        module = relative.parts[0].removesuffix(".rs")
        used = graph.setdefault(module, set())
        for line in code_lines(path.read_text(encoding="utf-8")):
            for target in PATH.findall(line):
                if target != module:
                    used.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by a depth-first walk from each node, once each."""
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target == start:
                cycle = path + [start]
                key = tuple(sorted(cycle[:-1]))
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif target not in path and target > start:
                walk(start, target, path + [target])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def problems(src: Path) -> list[str]:
    graph = edges(src)
    found = [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    found += [f"{BOTTOM} uses {target}: it is the bottom layer" for target in sorted(graph.get(BOTTOM, ()))]
    return found


def main() -> int:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "function" / "src"
    found = problems(src)
    for problem in found:
        print(f"layers: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
