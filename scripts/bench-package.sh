#!/usr/bin/env bash
# The package's size, cold start and per-event time, before and after, in one run on one
# machine: a baseline commit (default: b81544e, the last one built at opt-level 3 with thin
# LTO and the SDK's default TLS stacks) and the working tree, each in its own target folder.
#
#   scripts/bench-package.sh [BASELINE_REF]
#
# Per side: the bootstrap binary built by the bench profile (the release profile with
# symbols), stripped and zipped as cargo-lambda packages it; cold start (exec to the first
# Runtime API request, 50 runs) and `cargo bench --bench decide` (parse + decide).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$ROOT"
baseline_ref="${1:-b81544e}"
work="$TOOLS/bench-package"
mkdir -p "$work"
rm -rf "$work/baseline"
git worktree prune
git worktree add --quiet --detach "$work/baseline" "$baseline_ref"
trap 'git worktree remove --force "$work/baseline" 2>/dev/null || true' EXIT

measure() {
  local label="$1" tree="$2"
  echo "== $label ($tree)"
  (
    cd "$tree"
    export CARGO_TARGET_DIR="$work/target-$label" CARGO_PROFILE_BENCH_STRIP=symbols
    cargo bench --quiet --no-default-features --bench cold_start 2>/dev/null | grep -E "cold start|peak resident"
    cargo bench --quiet --no-default-features --bench decide -- --noplot 2>/dev/null | grep -B1 "time:" | grep -v "^--"
    python3 - "$CARGO_TARGET_DIR/release/bootstrap" <<'PY'
import io, os, sys, zipfile
binary = sys.argv[1]
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    archive.write(binary, "bootstrap")
print(f"bootstrap: {os.path.getsize(binary) / 1e6:.1f} MB stripped, {len(buffer.getvalue()) / 1e6:.2f} MB zipped")
PY
  )
}

measure baseline "$work/baseline"
measure current "$ROOT"
