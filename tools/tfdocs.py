"""Keeps the README's inputs and outputs tables in sync with variables.tf and outputs.tf.

Usage: python tools/tfdocs.py --check   (exit 1 and a diff when the README is stale)
       python tools/tfdocs.py --write   (rewrite the tables between the README markers)
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _unquote(text: object) -> str:
    # python-hcl2 keeps the quotes of string literals.
    if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == '"':
        return json.loads(text)
    return str(text)


def _type(text: str) -> str:
    match = re.fullmatch(r"\$\{(.*)\}", text, re.S)
    return match.group(1) if match else text


def _default(block: dict) -> str:
    if "default" not in block:
        return "n/a"
    value = block["default"]
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`"
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def blocks(path: Path, kind: str) -> list[tuple[str, dict]]:
    with path.open() as source:
        parsed = hcl2.load(source)
    return [(_unquote(name), block) for entry in parsed.get(kind, []) for name, block in entry.items()]


def inputs_table() -> str:
    rows = ["| Name | Description | Type | Default | Required |", "|------|-------------|------|---------|:--------:|"]
    for name, block in sorted(blocks(ROOT / "variables.tf", "variable"), key=lambda b: ("default" in b[1], b[0])):
        rows.append(
            f"| `{name}` | {_cell(_unquote(block.get('description', '')))} | `{_cell(_type(block.get('type', 'any')))}` "
            f"| {_cell(_default(block))} | {'no' if 'default' in block else 'yes'} |"
        )
    return "\n".join(rows)


def outputs_table() -> str:
    rows = ["| Name | Description |", "|------|-------------|"]
    for name, block in blocks(ROOT / "outputs.tf", "output"):
        rows.append(f"| `{name}` | {_cell(_unquote(block.get('description', '')))} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    for marker, table in (("INPUTS", inputs_table()), ("OUTPUTS", outputs_table())):
        pattern = re.compile(rf"(<!-- BEGIN_{marker} -->\n).*?(<!-- END_{marker} -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"tfdocs: README.md lacks the <!-- BEGIN_{marker} --> / <!-- END_{marker} --> markers")
        readme = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), readme)
    return readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    args = parser.parse_args()

    current = README.read_text()
    wanted = render(current)
    if args.write:
        README.write_text(wanted)
        return 0
    if current != wanted:
        sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), "README.md", "wanted"))
        print("tfdocs: README.md tables are stale; run python tools/tfdocs.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
