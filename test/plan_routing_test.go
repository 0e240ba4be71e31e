//go:build plan

package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/shell"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Routing and storms (thing context, grace overrides, maintenance windows, storm digests,
// the schema registry): nothing of them exists until asked for, each creates only what it
// needs with least privilege, and every combination that cannot work is refused at plan.

// planRouting plans the module as planModule does, and keeps the options so that the
// notifier's environment can be read from the same configuration.
func planRouting(t *testing.T, vars map[string]any) (*terraform.PlanStruct, *terraform.Options) {
	t.Helper()
	options := moduleOptions(t, vars)
	terraform.InitContext(t, t.Context(), options)
	terraform.PlanContext(t, t.Context(), options)
	return terraform.ShowWithStructContext(t, t.Context(), options), options
}

// notifierEnvironment is the notifier's environment but for GRACE_QUEUE_URL. The queue's
// URL, known only at apply, leaves the function's whole environment unknown in the plan,
// so this reads local.notifier_environment (what announcements.tf gives the function)
// from `terraform console -plan` with the same variables.
func notifierEnvironment(t *testing.T, options *terraform.Options) map[string]string {
	t.Helper()
	args := append([]string{"console", "-plan"}, terraform.FormatTerraformVarsAsArgs(options.Vars)...)
	output, err := shell.RunCommandContextAndGetStdOutE(t, t.Context(), &shell.Command{
		Command:    "terraform",
		Args:       args,
		WorkingDir: options.TerraformDir,
		Env:        options.EnvVars,
		Stdin:      strings.NewReader(`jsonencode({ for key, value in local.notifier_environment : key => value if key != "GRACE_QUEUE_URL" })` + "\n"),
	})
	require.NoError(t, err, "terraform console: %s", output)
	lines := strings.Split(strings.TrimSpace(output), "\n")
	text, err := strconv.Unquote(lines[len(lines)-1])
	require.NoError(t, err, "the console's answer is not a string: %s", output)
	environment := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(text), &environment), "%s", text)
	return environment
}

// The notifier's environment and actions with events on and nothing of routing.
var (
	baseNotifierEnvironment = []string{"EVENT_BUS_NAME", "EVENT_SOURCE", "GRACE_PERIOD_SECONDS", "MAX_CONCURRENT_PUTS", "TABLE_NAME"}
	baseNotifierActions     = []string{
		"dynamodb:DescribeStream", "dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
		"dynamodb:ListStreams", "dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents", "logs:CreateLogStream", "logs:PutLogEvents",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage", "sqs:SendMessage",
	}
	fleetActions = []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"}
	// Storms only: the status of an open storm's members, read in batches.
	stormActions = []string{"dynamodb:BatchGetItem"}
	thingActions = []string{"iot:DescribeThing", "iot:ListThingGroupsForThing"}
)

// statementBySid is the statement of a planned policy document with this Sid (nil: none).
func statementBySid(document map[string]any, sid string) map[string]any {
	for _, statement := range document["statement"].([]any) {
		if s := statement.(map[string]any); s["sid"] == sid {
			return s
		}
	}
	return nil
}

func sortedStrings(values []any) []string {
	var texts []string
	for _, value := range values {
		texts = append(texts, value.(string))
	}
	sort.Strings(texts)
	return texts
}

func withActions(extra ...[]string) []string {
	actions := slices.Clone(baseNotifierActions)
	for _, more := range extra {
		actions = append(actions, more...)
	}
	sort.Strings(actions)
	return actions
}

func settingsTags(t *testing.T, plan *terraform.PlanStruct) map[string]any {
	t.Helper()
	return planned(t, plan, "aws_dynamodb_table.connectivity")["tags"].(map[string]any)
}

func plannedOutput(t *testing.T, plan *terraform.PlanStruct, name string) any {
	t.Helper()
	output, ok := plan.RawPlan.PlannedValues.Outputs[name]
	require.True(t, ok, "output %s is not known at plan", name)
	return output.Value
}

// TestPlanRoutingOffAddsNothing: with every new input at its default, the plan holds
// exactly the resources of the release before routing and storms (e043513), the
// functions get no new variable, the notifier no new permission, and the outputs are
// null. Only the two settings tags on the table are new ("off", "false").
func TestPlanRoutingOffAddsNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		vars      map[string]any
		addresses []string
		presence  []string
	}{
		{"defaults", map[string]any{}, []string{
			"aws_dynamodb_table.connectivity", "aws_iam_role.rule_errors", "aws_iam_role_policy.rule_errors", "aws_iot_topic_rule.lifecycle",
			"aws_lambda_function_event_invoke_config.this", "aws_lambda_permission.iot", "aws_sqs_queue.dead_letter[0]",
			"data.aws_iam_policy_document.function", "data.aws_iam_policy_document.rule_errors",
			"module.presence_function.aws_cloudwatch_log_group.this", "module.presence_function.aws_iam_role.this",
			"module.presence_function.aws_iam_role_policy.this", "module.presence_function.aws_lambda_function.this", "terraform_data.build[0]",
		}, []string{"IGNORED_CLIENT_ID_PREFIXES", "TABLE_NAME"}},
		{"events", map[string]any{"events_enabled": true}, []string{
			"aws_cloudwatch_event_rule.reconcile[0]", "aws_cloudwatch_event_target.reconcile[0]", "aws_dynamodb_table.connectivity",
			"aws_iam_role.rule_errors", "aws_iam_role_policy.rule_errors", "aws_iot_topic_rule.lifecycle",
			"aws_lambda_event_source_mapping.grace_period[0]", "aws_lambda_event_source_mapping.stream[0]",
			"aws_lambda_function_event_invoke_config.notifier[0]", "aws_lambda_function_event_invoke_config.this",
			"aws_lambda_permission.iot", "aws_lambda_permission.reconcile[0]", "aws_sqs_queue.dead_letter[0]", "aws_sqs_queue.grace_period[0]",
			"data.aws_iam_policy_document.function", "data.aws_iam_policy_document.notifier[0]", "data.aws_iam_policy_document.rule_errors",
			"module.notifier[0].aws_cloudwatch_log_group.this", "module.notifier[0].aws_iam_role.this",
			"module.notifier[0].aws_iam_role_policy.this", "module.notifier[0].aws_lambda_function.this",
			"module.presence_function.aws_cloudwatch_log_group.this", "module.presence_function.aws_iam_role.this",
			"module.presence_function.aws_iam_role_policy.this", "module.presence_function.aws_lambda_function.this", "terraform_data.build[0]",
		}, []string{"ANNOUNCEMENTS_ENABLED", "IGNORED_CLIENT_ID_PREFIXES", "TABLE_NAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, options := planRouting(t, tc.vars)

			var addresses []string
			for address := range plan.ResourceChangesMap {
				addresses = append(addresses, address)
			}
			sort.Strings(addresses)
			assert.Equal(t, tc.addresses, addresses, "the resources of the release before routing and storms, no more")

			presence := planned(t, plan, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"].(map[string]any)
			var keys []string
			for key := range presence {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			assert.Equal(t, tc.presence, keys, "the presence function's variables")

			tags := settingsTags(t, plan)
			assert.NotContains(t, tags, "iot-connectivity:fleet-table", "no new tag on a table with everything off")
			assert.NotContains(t, tags, "iot-connectivity:thing-context")

			for _, output := range []string{"fleet_table_name", "fleet_table_arn", "event_schema_names", "event_schema_arns"} {
				assert.Nil(t, plannedOutput(t, plan, output), output)
			}
			assert.NotContains(t, plannedOutput(t, plan, "operator_environment"), "FLEET_TABLE_NAME")

			if tc.vars["events_enabled"] == true {
				environment := notifierEnvironment(t, options)
				var keys []string
				for key := range environment {
					keys = append(keys, key)
				}
				sort.Strings(keys)
				assert.Equal(t, baseNotifierEnvironment, keys, "the notifier's variables (and GRACE_QUEUE_URL)")

				policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
				assert.Equal(t, baseNotifierActions, policyActions(policy), "no registry, no fleet table")
				assert.Nil(t, statementBySid(policy, "ThingRegistry"))
				assert.Nil(t, statementBySid(policy, "FleetState"))
			}
		})
	}
}

// TestPlanRoutingFeatures: each feature on its own creates what it needs and no more;
// the notifier is told exactly its settings and may do exactly what they need: the
// registry's two reads on this account's things, the fleet table's items on that table.
func TestPlanRoutingFeatures(t *testing.T) {
	t.Parallel()
	const thingArns = `^arn:aws:iot:[a-z0-9-]+:\d{12}:thing/\*$`

	// assertNoFleet: nothing of the fleet table exists, nor its permission.
	assertNoFleet := func(t *testing.T, plan *terraform.PlanStruct, policy map[string]any, environment map[string]string) {
		t.Helper()
		for address := range plan.ResourceChangesMap {
			assert.False(t, strings.HasPrefix(address, "aws_dynamodb_table.fleet"), "created without maintenance windows or storms: %s", address)
		}
		assert.Nil(t, statementBySid(policy, "FleetState"))
		assert.NotContains(t, environment, "FLEET_TABLE_NAME")
		assert.NotContains(t, settingsTags(t, plan), "iot-connectivity:fleet-table")
		assert.Nil(t, plannedOutput(t, plan, "fleet_table_name"))
	}
	assertNoThings := func(t *testing.T, plan *terraform.PlanStruct, policy map[string]any, environment map[string]string) {
		t.Helper()
		assert.Nil(t, statementBySid(policy, "ThingRegistry"))
		for _, action := range policyActions(policy) {
			assert.NotContains(t, action, "iot:", "the registry is read only with thing_context_enabled")
		}
		assert.NotContains(t, environment, "THING_CONTEXT")
	}
	assertThings := func(t *testing.T, plan *terraform.PlanStruct, policy map[string]any, environment map[string]string) {
		t.Helper()
		registry := statementBySid(policy, "ThingRegistry")
		require.NotNil(t, registry, "the registry statement")
		assert.Equal(t, thingActions, sortedStrings(registry["actions"].([]any)))
		require.Len(t, registry["resources"], 1)
		assert.Regexp(t, thingArns, registry["resources"].([]any)[0], "this account's things, in this region, only")
		assert.Equal(t, "true", environment["THING_CONTEXT"])
	}
	// assertFleet: the fleet table, the notifier's five item actions on it and nothing
	// else of it, and where the CLI and callers find it.
	assertFleet := func(t *testing.T, plan *terraform.PlanStruct, policy map[string]any, environment map[string]string, tableName string) map[string]any {
		t.Helper()
		fleet := planned(t, plan, "aws_dynamodb_table.fleet[0]")
		assert.Equal(t, tableName+"-fleet", fleet["name"])
		assert.Equal(t, "PK", fleet["hash_key"])
		assert.Equal(t, "SK", fleet["range_key"])
		assert.ElementsMatch(t, []any{map[string]any{"name": "PK", "type": "S"}, map[string]any{"name": "SK", "type": "S"}}, fleet["attribute"])
		ttl := fleet["ttl"].([]any)[0].(map[string]any)
		assert.Equal(t, "ExpiresAt", ttl["attribute_name"])
		assert.Equal(t, true, ttl["enabled"])
		assert.Empty(t, fleet["global_secondary_index"])

		state := statementBySid(policy, "FleetState")
		require.NotNil(t, state, "the fleet table's statement")
		assert.Equal(t, fleetActions, sortedStrings(state["actions"].([]any)))
		assert.Equal(t, []any{"arn:aws:dynamodb:" + regionOf(t, policy) + ":" + accountOf(t, policy) + ":table/" + tableName + "-fleet"}, state["resources"], "the fleet table only")
		assert.Equal(t, tableName+"-fleet", environment["FLEET_TABLE_NAME"])
		assert.Equal(t, tableName+"-fleet", settingsTags(t, plan)["iot-connectivity:fleet-table"])
		assert.Equal(t, tableName+"-fleet", plannedOutput(t, plan, "fleet_table_name"))
		assert.Equal(t, tableName+"-fleet", plannedOutput(t, plan, "operator_environment").(map[string]any)["FLEET_TABLE_NAME"])
		return fleet
	}
	assertNoSchemas := func(t *testing.T, plan *terraform.PlanStruct) {
		t.Helper()
		for address := range plan.ResourceChangesMap {
			assert.NotContains(t, address, "aws_schemas_schema", "created without schema_registry_name: %s", address)
		}
	}

	t.Run("thing context", func(t *testing.T) {
		t.Parallel()
		plan, options := planRouting(t, map[string]any{"events_enabled": true, "thing_context_enabled": true})
		policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
		environment := notifierEnvironment(t, options)
		assertThings(t, plan, policy, environment)
		assertNoFleet(t, plan, policy, environment)
		assertNoSchemas(t, plan)
		assert.Equal(t, withActions(thingActions), policyActions(policy))
		assert.NotContains(t, environment, "GRACE_OVERRIDES")
		assert.NotContains(t, environment, "STORM_DIGEST")
	})

	t.Run("grace overrides", func(t *testing.T) {
		t.Parallel()
		plan, options := planRouting(t, map[string]any{
			"events_enabled": true, "thing_context_enabled": true,
			"disconnect_grace_period_overrides": []map[string]any{
				{"thing_group": "gateways", "seconds": 30},
				{"thing_type": "battery-sensor", "seconds": 900},
				{"attribute": map[string]any{"name": "site", "value": "berlin-3"}, "seconds": 0},
			},
		})
		policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
		environment := notifierEnvironment(t, options)
		assertThings(t, plan, policy, environment)
		assertNoFleet(t, plan, policy, environment)
		assert.Equal(t, withActions(thingActions), policyActions(policy))
		// In order (first match wins), every matcher named, the unset ones null.
		assert.JSONEq(t, `[
			{"thing_group": "gateways", "thing_type": null, "attribute": null, "seconds": 30},
			{"thing_group": null, "thing_type": "battery-sensor", "attribute": null, "seconds": 900},
			{"thing_group": null, "thing_type": null, "attribute": {"name": "site", "value": "berlin-3"}, "seconds": 0}
		]`, environment["GRACE_OVERRIDES"])
		assert.Equal(t, "60", environment["GRACE_PERIOD_SECONDS"], "the default for devices no override matches")
	})

	t.Run("maintenance windows, with the longest table name", func(t *testing.T) {
		t.Parallel()
		tableName := strings.Repeat("m", 255-len("-fleet"))
		plan, options := planRouting(t, map[string]any{"events_enabled": true, "maintenance_windows_enabled": true, "table_name": tableName})
		policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
		environment := notifierEnvironment(t, options)
		fleet := assertFleet(t, plan, policy, environment, tableName)
		assert.Len(t, fleet["name"], 255, "DynamoDB's limit, exactly")
		// Like the status table by default: on demand, PITR, AWS owned key, no deletion protection.
		assert.Equal(t, "PAY_PER_REQUEST", fleet["billing_mode"])
		assert.Equal(t, true, fleet["point_in_time_recovery"].([]any)[0].(map[string]any)["enabled"])
		assert.Equal(t, false, fleet["server_side_encryption"].([]any)[0].(map[string]any)["enabled"])
		assert.Equal(t, false, fleet["deletion_protection_enabled"])
		assertNoThings(t, plan, policy, environment)
		assertNoSchemas(t, plan)
		assert.Equal(t, withActions(fleetActions), policyActions(policy))
		assert.NotContains(t, environment, "STORM_DIGEST")
	})

	t.Run("storm digest by fleet, with the tables' settings", func(t *testing.T) {
		t.Parallel()
		name := uniqueName()
		key := "arn:aws:kms:us-east-1:123456789012:key/fleet"
		plan, options := planRouting(t, map[string]any{
			"name": name, "table_name": name + "-table", "events_enabled": true,
			"storm_digest": map[string]any{"threshold": 50, "window_seconds": 120, "group_by": "fleet"},
			"billing_mode": "PROVISIONED", "provisioned_capacity": map[string]any{"read": 3, "write": 4},
			"table_kms_key_arn": key, "deletion_protection_enabled": true, "point_in_time_recovery_enabled": false,
			"tags": map[string]string{"Team": "platform"},
		})
		policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
		environment := notifierEnvironment(t, options)
		fleet := assertFleet(t, plan, policy, environment, name+"-table")
		assert.Equal(t, "PROVISIONED", fleet["billing_mode"])
		assert.EqualValues(t, 3, fleet["read_capacity"])
		assert.EqualValues(t, 4, fleet["write_capacity"])
		sse := fleet["server_side_encryption"].([]any)[0].(map[string]any)
		assert.Equal(t, true, sse["enabled"])
		assert.Equal(t, key, sse["kms_key_arn"])
		assert.Equal(t, false, fleet["point_in_time_recovery"].([]any)[0].(map[string]any)["enabled"])
		assert.Equal(t, true, fleet["deletion_protection_enabled"])
		assert.Equal(t, map[string]any{"Team": "platform"}, fleet["tags"])
		// The notifier's existing grant on the table's key covers the fleet table too.
		assert.Equal(t, []any{key}, statementBySid(policy, "TableKey")["resources"])

		assertNoThings(t, plan, policy, environment)
		assert.JSONEq(t, `{"threshold": 50, "window_seconds": 120, "group_by": "fleet"}`, environment["STORM_DIGEST"])
		assert.NotContains(t, environment, "GRACE_OVERRIDES")
	})

	// The example's settings: storms by thing group need the registry; maintenance
	// windows and storms share one table.
	t.Run("storm digest by thing group, with maintenance windows", func(t *testing.T) {
		t.Parallel()
		name := uniqueName()
		plan, options := planRouting(t, map[string]any{
			"name": name, "table_name": name + "-table", "events_enabled": true,
			"thing_context_enabled": true, "maintenance_windows_enabled": true,
			"storm_digest": map[string]any{"threshold": 50, "window_seconds": 120, "group_by": "thing_group"},
		})
		policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
		environment := notifierEnvironment(t, options)
		assertFleet(t, plan, policy, environment, name+"-table")
		assertThings(t, plan, policy, environment)
		var fleetTables []string
		for address := range plan.ResourceChangesMap {
			if strings.HasPrefix(address, "aws_dynamodb_table.fleet") {
				fleetTables = append(fleetTables, address)
			}
		}
		assert.Equal(t, []string{"aws_dynamodb_table.fleet[0]"}, fleetTables, "one fleet table for both")
		assert.Equal(t, withActions(thingActions, fleetActions, stormActions), policyActions(policy))
		members := statementBySid(policy, "StormMembers")
		require.NotNil(t, members, "the storm members' status")
		assert.Equal(t, stormActions, sortedStrings(members["actions"].([]any)))
		// On the status table, whose ARN is known only after apply (the e2e tier reads it).
		assert.Len(t, members["actions"], 1)
		assert.JSONEq(t, `{"threshold": 50, "window_seconds": 120, "group_by": "thing_group"}`, environment["STORM_DIGEST"])
	})

	t.Run("storm digest by attribute", func(t *testing.T) {
		t.Parallel()
		plan, options := planRouting(t, map[string]any{
			"events_enabled": true, "thing_context_enabled": true,
			"storm_digest": map[string]any{"threshold": 2, "window_seconds": 10, "group_by": "attribute:site"},
		})
		environment := notifierEnvironment(t, options)
		assert.JSONEq(t, `{"threshold": 2, "window_seconds": 10, "group_by": "attribute:site"}`, environment["STORM_DIGEST"])
		assert.Contains(t, plan.ResourceChangesMap, "aws_dynamodb_table.fleet[0]")
	})

	t.Run("schema registry", func(t *testing.T) {
		t.Parallel()
		name := uniqueName()
		plan, options := planRouting(t, map[string]any{
			"name": name, "events_enabled": true, "schema_registry_name": "fleet-events",
			"tags": map[string]string{"Team": "platform"},
		})
		for family, file := range map[string]string{
			"device_events": "device-connectivity-event.schema.json",
			"fleet_events":  "fleet-connectivity-event.schema.json",
		} {
			schema := planned(t, plan, "aws_schemas_schema."+family+"[0]")
			assert.Equal(t, "fleet-events", schema["registry_name"])
			assert.Equal(t, "JSONSchemaDraft4", schema["type"])
			content, err := os.ReadFile(filepath.Join(repoRoot(t), "schemas", file))
			require.NoError(t, err)
			assert.JSONEq(t, string(content), schema["content"].(string), "the file in schemas/, as it is")
			assert.Equal(t, map[string]any{"Team": "platform"}, schema["tags"])
			assert.LessOrEqual(t, len(schema["description"].(string)), 256)
		}
		assert.Equal(t, name+"@DeviceConnectivityEvent", planned(t, plan, "aws_schemas_schema.device_events[0]")["name"])
		assert.Equal(t, name+"@FleetConnectivityEvent", planned(t, plan, "aws_schemas_schema.fleet_events[0]")["name"])
		assert.Equal(t, map[string]any{"device": name + "@DeviceConnectivityEvent", "fleet": name + "@FleetConnectivityEvent"}, plannedOutput(t, plan, "event_schema_names"))

		// The registry is the caller's: the module only writes schemas into it, and the
		// notifier gains nothing.
		policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
		environment := notifierEnvironment(t, options)
		assert.Equal(t, baseNotifierActions, policyActions(policy))
		assertNoFleet(t, plan, policy, environment)
		assertNoThings(t, plan, policy, environment)
		var keys []string
		for key := range environment {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		assert.Equal(t, baseNotifierEnvironment, keys)
	})
}

// regionOf and accountOf read the region and account of the plan from the notifier's
// own bus statement (the emulator's or the real account's).
func regionOf(t *testing.T, policy map[string]any) string {
	t.Helper()
	parts := strings.Split(statementResource(policy, "Bus"), ":")
	require.Len(t, parts, 6)
	return parts[3]
}

func accountOf(t *testing.T, policy map[string]any) string {
	t.Helper()
	parts := strings.Split(statementResource(policy, "Bus"), ":")
	require.Len(t, parts, 6)
	return parts[4]
}

// TestPlanRoutingRejectsInvalidInput: every setting that cannot work is refused at plan,
// with a message that says what to change.
func TestPlanRoutingRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	storm := func(threshold, window any, groupBy string) map[string]any {
		return map[string]any{"threshold": threshold, "window_seconds": window, "group_by": groupBy}
	}
	override := func(matchers map[string]any, seconds any) []map[string]any {
		entry := map[string]any{"seconds": seconds}
		for key, value := range matchers {
			entry[key] = value
		}
		return []map[string]any{entry}
	}
	withThings := func(vars map[string]any) map[string]any {
		vars["events_enabled"] = true
		vars["thing_context_enabled"] = true
		return vars
	}
	var tooMany []map[string]any
	for i := range 30 {
		tooMany = append(tooMany, map[string]any{"thing_group": "a-rather-long-thing-group-name-" + strconv.Itoa(i), "seconds": 900})
	}

	cases := map[string]struct {
		vars    map[string]any
		message string
	}{
		// Preconditions: what needs events, and what needs the registry.
		"thing context without events": {map[string]any{"thing_context_enabled": true},
			"events_enabled is false, so there are no connectivity announcements for thing_context_enabled to shape: set events_enabled = true."},
		"maintenance windows without events": {map[string]any{"maintenance_windows_enabled": true},
			"no connectivity announcements for maintenance_windows_enabled to shape"},
		"storm digest without events": {map[string]any{"storm_digest": storm(50, 120, "fleet")},
			"no connectivity announcements for storm_digest to shape"},
		"schema registry without events": {map[string]any{"schema_registry_name": "fleet-events"},
			"no connectivity announcements for schema_registry_name to shape"},
		"overrides without events": {map[string]any{"thing_context_enabled": true, "disconnect_grace_period_overrides": override(map[string]any{"thing_type": "sensor"}, 900)},
			"no connectivity announcements for thing_context_enabled, disconnect_grace_period_overrides to shape"},
		"overrides without thing context": {map[string]any{"events_enabled": true, "disconnect_grace_period_overrides": override(map[string]any{"thing_type": "sensor"}, 900)},
			"disconnect_grace_period_overrides match on the thing's registry data (its groups, type and attributes): set thing_context_enabled = true too."},
		"storm by thing group without thing context": {map[string]any{"events_enabled": true, "storm_digest": storm(50, 120, "thing_group")},
			`storm_digest.group_by = "thing_group" groups devices by the thing's registry data: set thing_context_enabled = true too, or group_by = "fleet".`},
		"storm by attribute without thing context": {map[string]any{"events_enabled": true, "storm_digest": storm(50, 120, "attribute:site")},
			`storm_digest.group_by = "attribute:site" groups devices by the thing's registry data`},
		"fleet table name too long": {map[string]any{"events_enabled": true, "maintenance_windows_enabled": true, "table_name": strings.Repeat("m", 256-len("-fleet"))},
			`With maintenance_windows_enabled or storm_digest, table_name may have at most 249 characters (the fleet table adds "-fleet").`},

		// Validations of disconnect_grace_period_overrides.
		"override with two matchers": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{"thing_type": "sensor", "thing_group": "site-3"}, 900)}),
			"Each disconnect_grace_period_overrides entry needs exactly one matcher: thing_group, thing_type or attribute = {name, value}."},
		"override with no matcher": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{}, 900)}),
			"needs exactly one matcher"},
		"override with all three matchers": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{
			"thing_type": "sensor", "thing_group": "site-3", "attribute": map[string]any{"name": "site", "value": "3"}}, 900)}),
			"needs exactly one matcher"},
		"override with an empty group": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{"thing_group": ""}, 900)}),
			"disconnect_grace_period_overrides matchers must not be empty"},
		"override with an empty attribute name": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{"attribute": map[string]any{"name": "", "value": "x"}}, 900)}),
			"disconnect_grace_period_overrides matchers must not be empty"},
		"override seconds too many": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{"thing_type": "sensor"}, 86401)}),
			"disconnect_grace_period_overrides seconds must be a whole number from 0 to 86400."},
		"override seconds negative": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{"thing_type": "sensor"}, -1)}),
			"disconnect_grace_period_overrides seconds must be a whole number from 0 to 86400."},
		"override seconds fractional": {withThings(map[string]any{"disconnect_grace_period_overrides": override(map[string]any{"thing_type": "sensor"}, 1.5)}),
			"disconnect_grace_period_overrides seconds must be a whole number from 0 to 86400."},
		"overrides too long for the environment": {withThings(map[string]any{"disconnect_grace_period_overrides": tooMany}),
			"disconnect_grace_period_overrides are too long for the notifier's environment"},

		// Validations of storm_digest.
		"storm threshold of one": {withThings(map[string]any{"storm_digest": storm(1, 120, "fleet")}),
			"storm_digest.threshold must be a whole number of devices, at least 2."},
		"storm threshold fractional": {withThings(map[string]any{"storm_digest": storm(2.5, 120, "fleet")}),
			"storm_digest.threshold must be a whole number of devices, at least 2."},
		"storm window too short": {withThings(map[string]any{"storm_digest": storm(50, 9, "fleet")}),
			"storm_digest.window_seconds must be a whole number from 10 to 86400."},
		"storm window too long": {withThings(map[string]any{"storm_digest": storm(50, 86401, "fleet")}),
			"storm_digest.window_seconds must be a whole number from 10 to 86400."},
		"storm window fractional": {withThings(map[string]any{"storm_digest": storm(50, 10.5, "fleet")}),
			"storm_digest.window_seconds must be a whole number from 10 to 86400."},
		"storm grouped by an unknown key": {withThings(map[string]any{"storm_digest": storm(50, 120, "site")}),
			"storm_digest.group_by must be thing_group, thing_type, fleet or attribute:<name>"},
		"storm grouped by an unnamed attribute": {withThings(map[string]any{"storm_digest": storm(50, 120, "attribute:")}),
			"storm_digest.group_by must be thing_group, thing_type, fleet or attribute:<name>"},
		"storm grouped by an attribute with a space": {withThings(map[string]any{"storm_digest": storm(50, 120, "attribute:my site")}),
			"storm_digest.group_by must be thing_group, thing_type, fleet or attribute:<name>"},

		// Validation of schema_registry_name.
		"schema registry name": {map[string]any{"events_enabled": true, "schema_registry_name": "my registry"},
			"schema_registry_name must be a schema registry name"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			options := moduleOptions(t, tc.vars)
			terraform.InitContext(t, t.Context(), options)
			_, err := terraform.PlanContextE(t, t.Context(), options)
			require.Error(t, err)
			assert.Contains(t, strings.Join(strings.Fields(err.Error()), " "), tc.message)
		})
	}
}
