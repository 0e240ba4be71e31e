#!/usr/bin/env bash
# Runs every check and test of the project, installing what a fresh machine lacks first.
#
#   scripts/test.sh              everything, against a local AWS API emulator it starts
#   scripts/test.sh --real-aws   the Terratest suite against the account of the current
#                                AWS credentials and AWS_REGION (costs a few cents; the
#                                Rust and emulator tests still run locally)
set -euo pipefail
export NEED_GO=1
source "$(dirname "$0")/setup.sh"
source "$ROOT/scripts/emulator.sh"
cd "$ROOT"

real_aws=false
[[ "${1:-}" == "--real-aws" ]] && real_aws=true

section() { printf '\n== %s\n' "$*"; }

scripts/lint.sh

section "Emulator: patches, Lambda runner, asynchronous invocation, event source mappings, IoT rules, IAM"
python -m unittest discover -s tools -p 'test_*.py'

if $real_aws; then
  unset AWS_ENDPOINT_URL
  [[ -n "${AWS_REGION:-}" ]] || { echo "--real-aws needs AWS_REGION" >&2; exit 1; }
else
  start_emulator
fi
# Every Go test must run: with no AWS target a test fails instead of skipping.
export REQUIRE_AWS_TARGET=1

section "Rust: unit, property and emulator-backed tests"
# A clean clone gains nothing from incremental artefacts; they cost a gigabyte of disk.
[[ "${CI:-}" == "true" ]] && export CARGO_INCREMENTAL=0
# The Rust tests always use an emulator: their own when --real-aws unset the shared one.
cargo test --workspace --locked

section "Terratest: plan and end-to-end tiers"
(cd test && go test -tags plan,e2e -count=1 -timeout 60m ./...)
