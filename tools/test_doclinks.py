"""Tests of tools/doclinks.py on a throwaway tree.

Run: python -m unittest discover -s tools -p 'test_*.py'
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import doclinks


class DocLinksTest(unittest.TestCase):
    def tree(self, files: dict[str, str]) -> Path:
        root = Path(tempfile.mkdtemp())
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        return root

    def test_anchors_follow_githubs_rule(self) -> None:
        self.assertEqual(doclinks.anchor("The `connectivity` CLI"), "the-connectivity-cli")
        self.assertEqual(doclinks.anchor("Replay: backfill and re-drive"), "replay-backfill-and-re-drive")

    def test_good_links_pass_and_broken_ones_are_named(self) -> None:
        root = self.tree({
            "README.md": "# Top\n\n## Quick start\n\n[ok](docs/a.md#the-rule) [self](#quick-start)\n"
                         "[gone](docs/missing.md) [bad anchor](docs/a.md#nowhere) [web](https://example.com)\n"
                         "```\n[in code](nowhere.md)\n```\n",
            "docs/a.md": "# A\n\n## The rule\n\n[back](../README.md#top) [dup](#a-1)\n\n## A\n",
        })
        problems = doclinks.broken_links(root)
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("docs/missing.md: no such file", problems[0])
        self.assertIn("no heading #nowhere", problems[1])

    def test_the_repositorys_docs_have_no_broken_link(self) -> None:
        self.assertEqual(doclinks.broken_links(Path(__file__).resolve().parent.parent), [])


if __name__ == "__main__":
    unittest.main()
