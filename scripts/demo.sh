#!/usr/bin/env bash
# The main job: deploy examples/complete to a local AWS API emulator, feed lifecycle
# events through the real handler binary the module built, and show device status change.
#
#   scripts/demo.sh          run, then destroy everything and stop the emulator
#   scripts/demo.sh --keep   leave the stack and the emulator running to explore
set -euo pipefail
source "$(dirname "$0")/setup.sh"
source "$ROOT/scripts/emulator.sh"

keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

start_emulator
: >"$TOOLS/demo-function.log"
cd "$ROOT/examples/complete"
rm -f terraform.tfstate terraform.tfstate.backup  # state of an emulator that is gone
terraform init -input=false >/dev/null
echo "== terraform apply (first run builds the handler with cargo-lambda: a few minutes)"
terraform apply -auto-approve -input=false -var name=demo | grep -E "Apply complete|Creation complete|Error" || true

function_name="$(terraform output -raw lambda_function_name)"
package="$(terraform output -raw lambda_package_path)"
table="$(terraform output -raw dynamodb_table_name)"
t0=$(( ($(date +%s) - 3 * 3600) * 1000 ))

# Each step: lifecycle events as IoT Core would deliver them, through the deployed
# function's bootstrap under a local Lambda Runtime API, then the table as apps see it.
step() {
  local title="$1"
  shift
  echo
  echo "== $title"
  printf '%s\n' "$@" |
    python "$ROOT/tools/local_lambda.py" --summary --function "$function_name" --package "$package" \
      2>>"$TOOLS/demo-function.log" | sed 's/^/   /'
  echo
  python "$ROOT/tools/status.py" "$table" | sed 's/^/   /'
}

event() { # type client version offset_ms [extra json]
  local version=""
  [[ "$3" != "-" ]] && version="\"versionNumber\": $3,"
  echo "{\"eventType\": \"$1\", \"clientId\": \"$2\", $version \"timestamp\": $((t0 + $4)), \"sessionIdentifier\": \"demo\", \"principalIdentifier\": \"demo\"${5:+, $5}}"
}

step "Two devices connect (and the AWS console's test client, which is ignored)" \
  "$(event connected sensor-1 0 0 '"ipAddress": "192.0.2.11"')" \
  "$(event connected sensor-2 5 0 '"ipAddress": "192.0.2.12"')" \
  "$(event connected iotconsole-1a2b 0 0)"

step "sensor-1 drops; a duplicate of its old connect arrives after the disconnect" \
  "$(event disconnected sensor-1 0 60000 '"disconnectReason": "CONNECTION_LOST", "clientInitiatedDisconnect": false')" \
  "$(event connected sensor-1 0 0 '"ipAddress": "192.0.2.11"')"

step "sensor-2 reconnects (DUPLICATE_CLIENTID); the new connect arrives before the old disconnect" \
  "$(event connected sensor-2 6 120001 '"ipAddress": "192.0.2.99"')" \
  "$(event disconnected sensor-2 5 120000 '"disconnectReason": "DUPLICATE_CLIENTID", "clientInitiatedDisconnect": false')"

step "sensor-1 is back two hours later: its version number reset to 0 (the sample said Disconnected here)" \
  "$(event connected sensor-1 0 7200000 '"ipAddress": "192.0.2.11"')"

step "sensor-3 fails to authenticate; a malformed payload is logged and skipped" \
  "$(event connect_failed sensor-3 - 7300000 '"connectFailureReason": "AUTHORIZATION_FAILED"')" \
  '{"clientId": "sensor-4", "eventType": "connected"}'

echo
if $keep; then
  trap - EXIT
  echo "== Left running. In this shell:"
  echo "   export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
  echo "   python tools/status.py $table      # with .tools/venv/bin on PATH"
  echo "   Stop the emulator with: kill $EMULATOR_PID"
  echo "   The function's JSON logs: $TOOLS/demo-function.log"
else
  echo "== terraform destroy"
  terraform destroy -auto-approve -input=false -var name=demo | grep -E "Destroy complete|Error" || true
  rm -f terraform.tfstate terraform.tfstate.backup
fi
