# Sourced by demo.sh and test.sh after setup.sh: starts the AWS API emulator on a free
# loopback port, points every AWS client (Terraform, the Rust SDK, boto3, Go) at it
# through the standard variables, and stops it when the calling script exits.

start_emulator() {
  local log="$TOOLS/emulator.log"
  # Schedules run 20 times faster: the rate(1 minute) ConnectedDevices publication every 3 s.
  EMULATOR_SCHEDULE_TIME_SCALE="${EMULATOR_SCHEDULE_TIME_SCALE:-0.05}" \
    python "$ROOT/tools/emulator.py" --port 0 >"$log" 2>&1 &
  EMULATOR_PID=$!
  trap stop_emulator EXIT
  for _ in $(seq 100); do
    grep -q "listening on" "$log" 2>/dev/null && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$log" >&2; echo "emulator failed to start" >&2; return 1; }
    sleep 0.1
  done
  AWS_ENDPOINT_URL="$(sed -n 's/^emulator listening on //p' "$log")"
  export AWS_ENDPOINT_URL
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_PROFILE AWS_SESSION_TOKEN
  echo "emulator: $AWS_ENDPOINT_URL (log: $log)"
}

stop_emulator() {
  if [[ -n "${EMULATOR_PID:-}" ]]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    EMULATOR_PID=""
  fi
}
