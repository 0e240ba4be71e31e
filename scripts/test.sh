#!/usr/bin/env bash
# Runs every test of the project. Installs what a fresh machine lacks first.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: fmt, clippy, tests"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
