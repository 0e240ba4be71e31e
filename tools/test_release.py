"""tools/release.py against throwaway git repositories."""

import subprocess
import tempfile
import unittest
from pathlib import Path

import release
from release import ReleaseError, Version


def run(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


class BumpLevel(unittest.TestCase):
    def test_the_highest_change_wins(self):
        self.assertEqual(release.bump_level(["docs: x", "fix: y"], Version(0, 3, 1)), "patch")
        self.assertEqual(release.bump_level(["fix: y", "feat(cli): z", "perf: w"], Version(0, 3, 1)), "minor")
        self.assertIsNone(release.bump_level(["docs: x", "test(e2e): y", "Merge branch x"], Version(0, 3, 1)))

    def test_breaking_changes_bump_the_minor_version_before_1_0(self):
        self.assertEqual(release.bump_level(["feat!: drop x"], Version(0, 3, 1)), "minor")
        self.assertEqual(release.bump_level(["feat!: drop x"], Version(1, 3, 1)), "major")
        footer = "refactor: rename\n\nBREAKING CHANGE: output x is now y"
        self.assertEqual(release.bump_level([footer], Version(2, 0, 0)), "major")


class Release(unittest.TestCase):
    def setUp(self):
        self.root = Path(tempfile.mkdtemp())
        run(self.root, "init", "--quiet", "--initial-branch=main")
        run(self.root, "config", "user.email", "test@example.com")
        run(self.root, "config", "user.name", "test")
        self.commit("feat: first", "- The module.")

    def commit(self, message: str, entry: str) -> None:
        changelog = self.root / "CHANGELOG.md"
        text = changelog.read_text() if changelog.exists() else "# Changelog\n\n## [Unreleased]\n"
        changelog.write_text(text.replace("## [Unreleased]\n", f"## [Unreleased]\n\n### Changed\n{entry}\n", 1))
        run(self.root, "add", "CHANGELOG.md")
        run(self.root, "commit", "--quiet", "-m", message)

    def test_versions_follow_the_commits_and_the_changelog_keeps_each_release(self):
        self.assertEqual(release.release(self.root, "2026-01-01"), "v0.1.0")
        with self.assertRaisesRegex(ReleaseError, "nothing to release"):
            release.release(self.root, "2026-01-02")
        self.commit("fix: second", "- A fix.")
        self.assertEqual(release.release(self.root, "2026-01-03"), "v0.1.1")
        self.commit("feat(cli): third", "- A feature.")
        self.assertEqual(release.release(self.root, "2026-01-04"), "v0.2.0")

        text = (self.root / "CHANGELOG.md").read_text()
        self.assertRegex(text, r"## \[Unreleased\]\n\n## \[0\.2\.0\] - 2026-01-04\n\n### Changed\n- A feature\.")
        self.assertIn("## [0.1.1] - 2026-01-03\n\n### Changed\n- A fix.", text)
        self.assertEqual(subprocess.run(["git", "-C", str(self.root), "tag"], capture_output=True, text=True).stdout.split(),
                         ["v0.1.0", "v0.1.1", "v0.2.0"])

    def test_a_release_needs_changelog_entries_and_a_clean_tree(self):
        release.release(self.root, "2026-01-01")
        run(self.root, "commit", "--quiet", "--allow-empty", "-m", "fix: undocumented")
        with self.assertRaisesRegex(ReleaseError, "lists no change"):
            release.release(self.root, "2026-01-02")
        (self.root / "CHANGELOG.md").write_text("edited")
        with self.assertRaisesRegex(ReleaseError, "uncommitted"):
            release.release(self.root, "2026-01-02")


class Check(unittest.TestCase):
    def test_the_repository_meets_the_registry_requirements(self):
        self.assertEqual(release.check(Path(__file__).resolve().parent.parent), [])

    def test_findings_name_what_is_wrong(self):
        root = Path(tempfile.mkdtemp())
        run(root, "init", "--quiet")
        run(root, "config", "user.email", "test@example.com")
        run(root, "config", "user.name", "test")
        (root / "README.md").write_text("# iot-connectivity\n\nKnow which devices are online.\n")
        (root / "examples" / "basic").mkdir(parents=True)
        (root / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-01-01\n- x\n")
        run(root, "add", ".")
        run(root, "commit", "--quiet", "-m", "feat: x")
        run(root, "tag", "v1.0")
        findings = "\n".join(release.check(root))
        for expected in ("main.tf: missing", "terraform-aws-<name>", "examples/basic/README.md: missing",
                         "tag v1.0:", "0.1.0 has no tag v0.1.0"):
            self.assertIn(expected, findings)


if __name__ == "__main__":
    unittest.main()
