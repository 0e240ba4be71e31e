#!/usr/bin/env bash
# The long fault soak, on demand: examples/complete on the emulator, then a fleet history
# of SOAK_CLIENTS devices (default 1,000, publishing at once) through the rule while
# EventBridge is down for SOAK_OUTAGE_SECONDS (default 600), DynamoDB writes are throttled,
# SQS sends fail and the notifier crashes; then every announcement must agree with the
# table. The test command runs the short version (60 devices, 20 s) in TestCompleteExample.
#
#   scripts/soak.sh
set -euo pipefail
export NEED_GO=1
source "$(dirname "$0")/setup.sh"
source "$ROOT/scripts/emulator.sh"
start_emulator
export REQUIRE_AWS_TARGET=1
export SOAK_CLIENTS="${SOAK_CLIENTS:-1000}" SOAK_OUTAGE_SECONDS="${SOAK_OUTAGE_SECONDS:-600}"
cd "$ROOT/test"
go test -tags e2e -count=1 -timeout 90m -v \
  -run 'TestCompleteExample$/^announcements_agree_with_the_table_after_faults' ./... | grep -v 'logger.go:'
