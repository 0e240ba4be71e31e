#!/usr/bin/env bash
# The main job: deploy examples/complete to the local AWS API emulator, publish lifecycle
# events as IoT Core does (topic rule -> asynchronous invoke of the real handler binary
# the module built), and show device status change, a failure and its re-drive.
#
#   scripts/demo.sh          run, then destroy everything and stop the emulator
#   scripts/demo.sh --keep   leave the stack and the emulator running to explore
set -euo pipefail
source "$(dirname "$0")/setup.sh"
source "$ROOT/scripts/emulator.sh"

keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

start_emulator
cd "$ROOT/examples/complete"
rm -f terraform.tfstate terraform.tfstate.backup  # state of an emulator that is gone
color=()
[[ -t 1 ]] || color=(-no-color)  # no escape codes when piped or logged
terraform init -input=false "${color[@]}" >/dev/null
echo "== terraform apply (the first run builds the handler with cargo-lambda: a few minutes)"
# Progress stays visible: terraform says "Still creating..." every 10 s while it builds.
terraform apply -auto-approve -input=false "${color[@]}" -var name=demo -var disconnect_grace_period_seconds=5 |
  grep --line-buffered -E "Still creating|Creation complete|Apply complete|Error:" || true

function_name="$(terraform output -raw lambda_function_name)"
table="$(terraform output -raw dynamodb_table_name)"
log_group="$(terraform output -raw cloudwatch_log_group_name)"
dlq_url="$(terraform output -raw dead_letter_queue_url)"
role="$(terraform output -raw iam_role_name)"
events_queue="$(terraform output -raw events_queue_url)"
t0=$(( ($(date +%s) - 3 * 3600) * 1000 ))

# Each step: lifecycle events published as IoT Core publishes them; the emulator's
# rules engine runs the topic rule, which invokes the deployed function asynchronously.
# Then what the function logged per event, the table as applications see it, and the
# connectivity events an EventBridge rule delivered (a disconnect only once it has
# lasted the 5-second grace period: publish waits for the emulator to drain).
step() {
  local title="$1"
  shift
  echo
  echo "== $title"
  printf '%s\n' "$@" | python "$ROOT/tools/publish.py" --log-group "$log_group" | sed 's/^/   /'
  echo
  python "$ROOT/tools/status.py" "$table" | sed 's/^/   /'
  announcements
}

announcements() {
  local lines
  lines="$(python "$ROOT/tools/announcements.py" "$events_queue")"
  echo
  if [[ -n "$lines" ]]; then
    echo "   events on the bus:"
    printf '%s\n' "$lines" | sed 's/^/     /'
  else
    echo "   events on the bus: none"
  fi
}

dlq_depth() {
  python - "$dlq_url" <<'PY'
import sys, boto3
attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=sys.argv[1], AttributeNames=["ApproximateNumberOfMessages"])
print(attributes["Attributes"]["ApproximateNumberOfMessages"])
PY
}

# An outage of the function's write permission, as a mistaken policy change would cause.
deny_writes() {
  python - "$role" "$1" <<'PY'
import json, sys, boto3
iam, role, action = boto3.client("iam"), sys.argv[1], sys.argv[2]
if action == "on":
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "dynamodb:UpdateItem", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role, PolicyName="demo-outage", PolicyDocument=json.dumps(document))
else:
    iam.delete_role_policy(RoleName=role, PolicyName="demo-outage")
PY
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

step "site-3/gw-1 connects: a client ID with slashes publishes on more topic levels" \
  "$(event connected site-3/gw-1 0 7250000 '"ipAddress": "192.0.2.31"')"

step "sensor-2 fails to authenticate (recorded: the table knows it); unknown sensor-9 fails too (not recorded); a malformed payload is logged and skipped" \
  "$(event connect_failed sensor-2 - 7300000 '"connectFailureReason": "AUTHORIZATION_FAILED"')" \
  "$(event connect_failed sensor-9 - 7300000 '"connectFailureReason": "AUTHORIZATION_FAILED"')" \
  '{"clientId": "sensor-4", "eventType": "connected"}'

step "cam-1 and cam-2 come online: each is announced Device Connected" \
  "$(event connected cam-1 0 7310000)" "$(event connected cam-2 0 7310000)"

step "cam-1 flaps: it drops and is back within the 5-second grace period, so nothing is announced" \
  "$(event disconnected cam-1 0 7311000 '"disconnectReason": "CONNECTION_LOST"')" \
  "$(event connected cam-1 1 7312000)"

step "cam-2 goes offline and stays offline past its grace period: announced Device Disconnected" \
  "$(event disconnected cam-2 0 7311000 '"disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT"')"

step "cam-2 returns: announced Device Connected, with how long it was offline" "$(event connected cam-2 1 7400000)"

echo
echo "== cam-1 is decommissioned: its item is deleted while it is online, so it is announced Device Disconnected (ITEM_DELETED)"
python - "$table" <<'PY'
import sys, boto3
boto3.client("dynamodb").delete_item(TableName=sys.argv[1], Key={"ClientID": {"S": "cam-1"}})
PY
announcements

deny_writes on
step "The function loses dynamodb:UpdateItem; sensor-2 disconnects: Lambda retries, then the event lands in the dead-letter queue" \
  "$(event disconnected sensor-2 6 7400000 '"disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT", "clientInitiatedDisconnect": false')"
echo "   dead-letter queue: $(dlq_depth) message(s)"

deny_writes off
echo
echo "== Permission restored; re-drive the dead-letter queue through the function (tools/redrive.py)"
python "$ROOT/tools/redrive.py" --queue-url "$dlq_url" --function "$function_name" | sed 's/^/   /'
echo "   dead-letter queue: $(dlq_depth) message(s)"
echo
python "$ROOT/tools/status.py" "$table" | sed 's/^/   /'
announcements

echo
echo "== The ConnectedDevices metric, counted from the table's stream (published once a minute on AWS, every 3 s here)"
python "$ROOT/tools/connected_devices.py" demo "$table" | sed 's/^/   /'

echo
if $keep; then
  trap - EXIT
  echo "== Left running. In this shell:"
  echo "   export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
  echo "   python tools/status.py $table      # with .tools/venv/bin on PATH"
  echo "   Stop the emulator with: kill $EMULATOR_PID"
  echo "   The function's JSON logs: log group $log_group (and $TOOLS/emulator.log)"
else
  echo "== terraform destroy"
  # Only the outcome: destroy prints every resource's plan first.
  terraform destroy -auto-approve -input=false -no-color -var name=demo | grep -E "^(Destroy complete|Error)" || true
  rm -f terraform.tfstate terraform.tfstate.backup
fi
