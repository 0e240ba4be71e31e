"""Tests of tools/layers.py on throwaway trees, and on the crate itself.

Run: python -m unittest discover -s tools -p 'test_*.py'
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import layers


class LayersTest(unittest.TestCase):
    def tree(self, files: dict[str, str]) -> Path:
        root = Path(tempfile.mkdtemp())
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        return root

    def test_a_cycle_between_pipelines_is_named(self) -> None:
        src = self.tree({
            "presence/processor.rs": "use crate::history::store::HistoryStore;\n",
            "history/sessions.rs": "use crate::presence::event::Connected;\n",
            "count/table.rs": "use crate::presence::store::number;\n",
        })
        self.assertEqual(layers.problems(src), ["import cycle: history -> presence -> history"])

    def test_comments_and_doc_links_are_not_imports(self) -> None:
        src = self.tree({
            "presence/store.rs": "/// See [`crate::count::decision`].\n// crate::history too\nfn f() {}\n",
            "count/decision.rs": "use crate::presence::store::attr; // not crate::shared\n",
        })
        self.assertEqual(layers.problems(src), [])

    def test_shared_uses_no_pipeline(self) -> None:
        src = self.tree({"shared/aws.rs": "use crate::presence::store::Store;\n"})
        self.assertEqual(layers.problems(src), ["shared uses presence: it is the bottom layer"])

    def test_the_crate_imports_downward_only(self) -> None:
        src = Path(__file__).resolve().parent.parent / "function" / "src"
        self.assertEqual(layers.problems(src), [])
