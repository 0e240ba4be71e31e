#!/usr/bin/env python3
"""Releases of the module, the way module registries consume them.

    python tools/release.py check            the registry's requirements (exit 1 on a finding)
    python tools/release.py next             the next version, from conventional commits
    python tools/release.py release [--date YYYY-MM-DD]
                                             CHANGELOG's [Unreleased] becomes that version,
                                             committed as "chore(release): vX.Y.Z" and tagged

Versions follow semantic versioning from Conventional Commits since the newest tag:
a breaking change (`type!:` or a `BREAKING CHANGE:` footer) bumps the major version (the
minor before 1.0.0), `feat` the minor, `fix` and `perf` the patch; other types alone make
no release. With no tag yet the first release is 0.1.0. Tags are `vX.Y.Z`, which the public
registry and private ones (Terraform Cloud, GitLab) read as version X.Y.Z.
"""

from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
SUBJECT = re.compile(r"^(?P<type>[a-z]+)(\([^)]*\))?(?P<breaking>!)?: \S")
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$")
UNRELEASED = "## [Unreleased]"
REPOSITORY_NAME = re.compile(r"^terraform-aws-[a-z0-9]+(-[a-z0-9]+)*$")


class ReleaseError(Exception):
    pass


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def bumped(self, level: str) -> Version:
        if level == "major":
            return Version(self.major + 1, 0, 0)
        if level == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def release_tags(root: Path) -> list[str]:
    return [t for t in git(root, "tag", "--list", "v*").split() if t]


def latest_release(root: Path) -> tuple[str, Version] | None:
    """The highest vX.Y.Z tag reachable from HEAD."""
    found = []
    for tag in git(root, "tag", "--merged", "HEAD", "--list", "v*").split():
        match = TAG.match(tag)
        if match:
            found.append((Version(*map(int, match.groups())), tag))
    if not found:
        return None
    version, tag = max(found)
    return tag, version


def bump_level(messages: list[str], current: Version) -> str | None:
    """The semver level the commit messages call for, or None if none is releasable."""
    level = None
    rank = {None: 0, "patch": 1, "minor": 2, "major": 3}
    for message in messages:
        subject, _, body = message.partition("\n")
        match = SUBJECT.match(subject)
        if not match:
            print(f"release: not a conventional commit, ignored: {subject!r}", file=sys.stderr)
            continue
        if match["breaking"] or re.search(r"^BREAKING[ -]CHANGE: ", body, re.MULTILINE):
            wanted = "major" if current.major >= 1 else "minor"
        elif match["type"] == "feat":
            wanted = "minor"
        elif match["type"] in ("fix", "perf"):
            wanted = "patch"
        else:
            continue
        if rank[wanted] > rank[level]:
            level = wanted
    return level


def next_version(root: Path) -> Version:
    latest = latest_release(root)
    if latest is None:
        return Version(0, 1, 0)
    tag, current = latest
    log = git(root, "log", "--format=%B%x00", f"{tag}..HEAD")
    messages = [m.strip() for m in log.split("\x00") if m.strip()]
    level = bump_level(messages, current)
    if level is None:
        raise ReleaseError(f"nothing to release: no feat, fix, perf or breaking commit since {tag}")
    return current.bumped(level)


def changelog_with_release(text: str, version: Version, date: str) -> str:
    """[Unreleased]'s entries moved under a new `## [X.Y.Z] - DATE` heading."""
    lines = text.split("\n")
    try:
        start = lines.index(UNRELEASED)
    except ValueError:
        raise ReleaseError(f"CHANGELOG.md has no '{UNRELEASED}' heading") from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    entries = lines[start + 1 : end]
    if not any(line.startswith("- ") for line in entries):
        raise ReleaseError("CHANGELOG.md's [Unreleased] section lists no change to release")
    if any(RELEASE_HEADING.match(line) and line.split("]")[0][4:] == str(version) for line in lines):
        raise ReleaseError(f"CHANGELOG.md already has a {version} section")
    heading = [UNRELEASED, "", f"## [{version}] - {date}"]
    return "\n".join(lines[:start] + heading + entries + lines[end:])


def release(root: Path, date: str) -> str:
    if git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise ReleaseError("the working tree has uncommitted changes")
    version = next_version(root)
    tag = f"v{version}"
    changelog = root / "CHANGELOG.md"
    changelog.write_text(changelog_with_release(changelog.read_text(), version, date))
    git(root, "add", "CHANGELOG.md")
    git(root, "commit", "--quiet", "-m", f"chore(release): {tag}")
    git(root, "tag", "-a", tag, "-m", tag)
    return tag


def check(root: Path) -> list[str]:
    """What the Terraform Registry requires of a module repository, and what this
    project adds to it (examples' READMEs, a CHANGELOG matching the tags)."""
    findings = []
    readme = root / "README.md"
    for required in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md", "LICENSE"):
        if not (root / required).is_file():
            findings.append(f"{required}: missing (standard module structure)")
    if readme.is_file():
        lines = readme.read_text().split("\n")
        title = lines[0].removeprefix("# ").strip() if lines and lines[0].startswith("# ") else ""
        if not REPOSITORY_NAME.match(title):
            findings.append(f"README.md: the title {title!r} must be the repository's name, terraform-aws-<name>")
        description = next((line for line in lines[1:] if line.strip()), "")
        if not description or description.startswith("#"):
            findings.append("README.md: a one-line description must follow the title")
    examples = sorted(p for p in (root / "examples").iterdir() if p.is_dir()) if (root / "examples").is_dir() else []
    if not examples:
        findings.append("examples/: no example (the registry lists examples/<name>/)")
    for example in examples:
        for required in ("README.md", "main.tf", "versions.tf"):
            if not (example / required).is_file():
                findings.append(f"examples/{example.name}/{required}: missing")
    for tag in release_tags(root):
        if not TAG.match(tag):
            findings.append(f"tag {tag}: releases are tagged vX.Y.Z; the registry ignores other tags")
    changelog = root / "CHANGELOG.md"
    if not changelog.is_file():
        findings.append("CHANGELOG.md: missing")
    else:
        text = changelog.read_text().split("\n")
        if UNRELEASED not in text:
            findings.append(f"CHANGELOG.md: no '{UNRELEASED}' heading (Keep a Changelog)")
        tags = set(release_tags(root))
        for line in text:
            if line.startswith("## [") and line != UNRELEASED:
                match = RELEASE_HEADING.match(line)
                if not match:
                    findings.append(f"CHANGELOG.md: {line!r} is not '## [X.Y.Z] - YYYY-MM-DD'")
                elif f"v{match[1]}" not in tags:
                    findings.append(f"CHANGELOG.md: {match[1]} has no tag v{match[1]}")
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "next", "release"])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="release date (release only)")
    args = parser.parse_args()
    try:
        if args.command == "check":
            findings = check(args.root)
            for finding in findings:
                print(f"release check: {finding}", file=sys.stderr)
            if not findings:
                print("release check: the module meets the registry's requirements")
            return 1 if findings else 0
        if args.command == "next":
            print(f"v{next_version(args.root)}")
            return 0
        tag = release(args.root, args.date)
        print(f"tagged {tag}; publish with: git push origin main {tag}")
        return 0
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
