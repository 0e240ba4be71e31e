#!/usr/bin/env bash
# The deployment package(s) the complete example deploys, before and after, built and
# measured in one run on one machine: a baseline commit (default: 2449887, the last with
# one binary per function) and the working tree, each in a target folder of its own.
#
#   scripts/bench-package.sh [BASELINE_REF]
#
# Per side, with cargo-lambda exactly as the module's build runs it:
#   - clean build: every package from an empty target folder (a newcomer's first apply);
#   - rebuild after a source change (a touched function/src/lib.rs);
#   - each zip's size;
#   - per role, cold start (exec to the first Runtime API request, 50 runs) and peak
#     resident memory, measured by the working tree's `cold_start` bench on both sides.
# Takes about half an hour on 2 cores; run it on an otherwise idle machine.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$ROOT"
baseline_ref="${1:-2449887}"
work="$TOOLS/bench-package"
mkdir -p "$work"
rm -rf "$work/baseline"
git worktree prune
git worktree add --quiet --detach "$work/baseline" "$baseline_ref"
trap 'git worktree remove --force "$work/baseline" 2>/dev/null || true' EXIT

# The cold-start harness, built once from the working tree.
cargo bench --quiet --no-default-features --bench cold_start --no-run 2>/dev/null
harness="$(find target/release/deps -maxdepth 1 -type f -executable -name 'cold_start-*' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2)"

# Wall-clock seconds, and CPU seconds (user + system, children included): the CPU time
# stays comparable when something else shares the machine.
seconds_of() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
started = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
usage = os.times()
print(f"{time.monotonic() - started:.0f} s wall, {usage.children_user + usage.children_system:.0f} s CPU")
PY
}

measure() {
  local label="$1" tree="$2"
  shift 2
  local bins=("$@") target="$work/target-$label" lambda_dir="$work/lambda-$label"
  rm -rf "$target" "$lambda_dir"
  local build=(cargo lambda build --release --no-default-features --x86-64 --output-format zip
    --lambda-dir "$lambda_dir")
  for bin in "${bins[@]}"; do build+=(--bin "$bin"); done
  echo "== $label ($tree): ${bins[*]}"
  (
    cd "$tree"
    export CARGO_TARGET_DIR="$target"
    echo "clean build: $(seconds_of "${build[@]}")"
    touch function/src/lib.rs
    echo "rebuild after a source change: $(seconds_of "${build[@]}")"
  )
  for bin in "${bins[@]}"; do
    echo "$bin zip: $(stat -c %s "$lambda_dir/$bin/bootstrap.zip" | awk '{printf "%.2f MB", $1 / 1e6}')"
  done
}

# The deployed binary: the zip's bootstrap.
cold_start() {
  local zip="$1" roles="$2" unpacked
  unpacked="$(mktemp -d)"
  python3 -m zipfile -e "$zip" "$unpacked"
  chmod +x "$unpacked/bootstrap"
  COLD_START_BINARY="$unpacked/bootstrap" COLD_START_ROLES="$roles" "$harness" --bench | sed 's/ of [^ ]* / /'
  rm -rf "$unpacked"
}

measure baseline "$work/baseline" bootstrap notifier counter
measure current "$ROOT" bootstrap
echo "== cold start and peak memory, baseline (one binary per role)"
cold_start "$work/lambda-baseline/bootstrap/bootstrap.zip" presence
cold_start "$work/lambda-baseline/notifier/bootstrap.zip" notifier
cold_start "$work/lambda-baseline/counter/bootstrap.zip" counter
echo "== cold start and peak memory, current (one binary, _HANDLER)"
cold_start "$work/lambda-current/bootstrap/bootstrap.zip" presence,notifier,counter
