//go:build plan

package test

import (
	"archive/zip"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// planModule plans the module itself (the repository root, with the provider configured
// from the environment) with the given variables.
func planModule(t *testing.T, vars map[string]any) *terraform.PlanStruct {
	t.Helper()
	options := moduleOptions(t, vars)
	terraform.InitContext(t, t.Context(), options)
	terraform.PlanContext(t, t.Context(), options)
	return terraform.ShowWithStructContext(t, t.Context(), options)
}

func moduleOptions(t *testing.T, vars map[string]any) *terraform.Options {
	t.Helper()
	target(t)
	if _, ok := vars["name"]; !ok {
		vars["name"] = uniqueName()
	}
	return terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: copyRepo(t),
		Vars:         vars,
		EnvVars:      terraformEnv(t),
		NoColor:      true,
		PlanFilePath: "test.tfplan",
	})
}

func planned(t *testing.T, plan *terraform.PlanStruct, address string) map[string]any {
	t.Helper()
	resource, ok := plan.ResourcePlannedValuesMap[address]
	require.True(t, ok, "%s is not in the plan", address)
	return resource.AttributeValues
}

// change is the planned "after" of a resource or of a data source read at apply.
func change(t *testing.T, plan *terraform.PlanStruct, address string) map[string]any {
	t.Helper()
	resource, ok := plan.ResourceChangesMap[address]
	require.True(t, ok, "%s is not in the plan", address)
	after, ok := resource.Change.After.(map[string]any)
	require.True(t, ok, "%s has no planned values", address)
	return after
}

func TestPlanDefaults(t *testing.T) {
	t.Parallel()
	plan := planModule(t, map[string]any{})

	table := planned(t, plan, "aws_dynamodb_table.connectivity")
	assert.Equal(t, "DeviceConnectivity", table["name"])
	assert.Equal(t, "ClientID", table["hash_key"])
	assert.Equal(t, "PAY_PER_REQUEST", table["billing_mode"])
	assert.Equal(t, true, table["point_in_time_recovery"].([]any)[0].(map[string]any)["enabled"])
	// DynamoDB's AWS owned key unless a customer key is given: no KMS charges by default.
	assert.Equal(t, false, table["server_side_encryption"].([]any)[0].(map[string]any)["enabled"])
	assert.Empty(t, table["global_secondary_index"])

	function := planned(t, plan, "module.presence_function.aws_lambda_function.this")
	assert.Equal(t, "provided.al2023", function["runtime"])
	assert.Equal(t, "presence", function["handler"])
	assert.Equal(t, []any{"x86_64"}, function["architectures"])
	logging := function["logging_config"].([]any)[0].(map[string]any)
	assert.Equal(t, "JSON", logging["log_format"])
	assert.Equal(t, "INFO", logging["application_log_level"])
	assert.Equal(t, "INFO", logging["system_log_level"], "INFO keeps Lambda's START and REPORT lines")
	assert.Contains(t, plan.ResourceChangesMap, "terraform_data.build[0]", "the module builds the zip by default")

	logs := planned(t, plan, "module.presence_function.aws_cloudwatch_log_group.this")
	assert.EqualValues(t, 30, logs["retention_in_days"])
	assert.Equal(t, "/aws/lambda/"+function["function_name"].(string), logs["name"])

	rule := planned(t, plan, "aws_iot_topic_rule.lifecycle")
	// '#': a client ID may contain '/', which adds topic levels.
	assert.Equal(t, "SELECT * FROM '$aws/events/presence/#'", rule["sql"])
	assert.Equal(t, "2016-03-23", rule["sql_version"])
	assert.Len(t, rule["error_action"], 1)

	queue := planned(t, plan, "aws_sqs_queue.dead_letter[0]")
	assert.Equal(t, true, queue["sqs_managed_sse_enabled"])

	// Events are off by default, and then nothing of them exists.
	for address := range plan.ResourceChangesMap {
		assert.NotContains(t, address, "notifier", "created with events off: %s", address)
		assert.NotContains(t, address, "grace_period", "created with events off: %s", address)
		assert.NotContains(t, address, "event_source_mapping", "created with events off: %s", address)
	}
	assert.Equal(t, false, table["stream_enabled"])
}

func TestPlanEvents(t *testing.T) {
	t.Parallel()
	plan := planModule(t, map[string]any{"events_enabled": true, "disconnect_grace_period_seconds": 3600, "event_bus_name": "fleet"})

	table := planned(t, plan, "aws_dynamodb_table.connectivity")
	assert.Equal(t, true, table["stream_enabled"])
	assert.Equal(t, "NEW_AND_OLD_IMAGES", table["stream_view_type"], "the stream is the outbox")

	// Its environment is known only after apply (the queue's URL): the e2e tier checks it.
	notifier := planned(t, plan, "module.notifier[0].aws_lambda_function.this")
	assert.Equal(t, "provided.al2023", notifier["runtime"])
	assert.Equal(t, "notifier", notifier["handler"])

	stream := planned(t, plan, "aws_lambda_event_source_mapping.stream[0]")
	assert.Equal(t, []any{"ReportBatchItemFailures"}, stream["function_response_types"])
	assert.Equal(t, true, stream["bisect_batch_on_function_error"])
	assert.Equal(t, "LATEST", stream["starting_position"])
	filters := stream["filter_criteria"].([]any)[0].(map[string]any)["filter"].([]any)
	require.Len(t, filters, 3, "what leaves an item owing an announcement, and removals that owe a farewell, wake the notifier")
	patterns := []string{}
	for _, filter := range filters {
		patterns = append(patterns, filter.(map[string]any)["pattern"].(string))
	}
	assert.JSONEq(t, `{"dynamodb":{"NewImage":{"OwedShard":{"S":[{"exists":true}]},"AnnouncementPending":{"BOOL":[{"exists":false}]}}}}`, patterns[0])
	assert.JSONEq(t, `{"eventName":["REMOVE"],"dynamodb":{"OldImage":{"AnnouncedStatus":{"S":["Connected"]}}}}`, patterns[1])
	assert.JSONEq(t, `{"eventName":["REMOVE"],"dynamodb":{"OldImage":{"AnnouncementPending":{"BOOL":[{"exists":true}]}}}}`, patterns[2])
	grace := planned(t, plan, "aws_lambda_event_source_mapping.grace_period[0]")
	assert.EqualValues(t, 2, grace["scaling_config"].([]any)[0].(map[string]any)["maximum_concurrency"], "the grace checks of a mass outage scale no further")
	assert.Equal(t, []any{"ReportBatchItemFailures"}, grace["function_response_types"])

	// The reconciler: a schedule on the notifier, reading the sparse owed index.
	assert.Equal(t, "rate(1 minute)", planned(t, plan, "aws_cloudwatch_event_rule.reconcile[0]")["schedule_expression"])
	assert.Equal(t, "events.amazonaws.com", planned(t, plan, "aws_lambda_permission.reconcile[0]")["principal"])
	var owedIndex map[string]any
	for _, index := range table["global_secondary_index"].([]any) {
		if index.(map[string]any)["name"] == "ByAnnouncementOwed" {
			owedIndex = index.(map[string]any)
		}
	}
	require.NotNil(t, owedIndex, "the owed index exists with events")
	assert.Equal(t, "OwedShard", owedIndex["hash_key"])
	assert.Equal(t, "KEYS_ONLY", owedIndex["projection_type"])
	assert.Equal(t, "true", planned(t, plan, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"].(map[string]any)["ANNOUNCEMENTS_ENABLED"],
		"presence writes mark what is owed")

	// Least privilege: its table, its stream, its queue, the one bus, its log group.
	policy := change(t, plan, "data.aws_iam_policy_document.notifier[0]")
	assert.Equal(t, []string{
		"dynamodb:DescribeStream", "dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
		"dynamodb:ListStreams", "dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents", "logs:CreateLogStream", "logs:PutLogEvents",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage", "sqs:SendMessage",
	}, policyActions(policy))
	assert.Regexp(t, `^arn:aws:events:[a-z0-9-]+:\d{12}:event-bus/fleet$`, statementResource(policy, "Bus"))
}

// policyActions lists every action of a planned policy document's statements, sorted.
func policyActions(document map[string]any) []string {
	var actions []string
	for _, statement := range document["statement"].([]any) {
		for _, action := range statement.(map[string]any)["actions"].([]any) {
			actions = append(actions, action.(string))
		}
	}
	sort.Strings(actions)
	return actions
}

// statementResource is the single resource of the statement with this Sid.
func statementResource(document map[string]any, sid string) string {
	for _, statement := range document["statement"].([]any) {
		s := statement.(map[string]any)
		if s["sid"] == sid {
			return s["resources"].([]any)[0].(string)
		}
	}
	return ""
}

func TestPlanVariables(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name  string
		vars  map[string]any
		check func(t *testing.T, plan *terraform.PlanStruct)
	}{
		{"table_name", map[string]any{"table_name": "Fleet-Status"}, func(t *testing.T, plan *terraform.PlanStruct) {
			assert.Equal(t, "Fleet-Status", planned(t, plan, "aws_dynamodb_table.connectivity")["name"])
			env := planned(t, plan, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"]
			assert.Equal(t, "Fleet-Status", env.(map[string]any)["TABLE_NAME"])
		}},
		{"log_retention_in_days", map[string]any{"log_retention_in_days": 365}, func(t *testing.T, plan *terraform.PlanStruct) {
			assert.EqualValues(t, 365, planned(t, plan, "module.presence_function.aws_cloudwatch_log_group.this")["retention_in_days"])
		}},
		{"architecture", map[string]any{"architecture": "arm64"}, func(t *testing.T, plan *terraform.PlanStruct) {
			assert.Equal(t, []any{"arm64"}, planned(t, plan, "module.presence_function.aws_lambda_function.this")["architectures"])
			assert.Contains(t, planned(t, plan, "module.presence_function.aws_lambda_function.this")["filename"], "/arm64-")
		}},
		{"ignored_client_id_prefixes", map[string]any{"ignored_client_id_prefixes": []string{"iotconsole", "test-"}}, func(t *testing.T, plan *terraform.PlanStruct) {
			env := planned(t, plan, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"]
			assert.Equal(t, "iotconsole,test-", env.(map[string]any)["IGNORED_CLIENT_ID_PREFIXES"])
		}},
		{"log_level", map[string]any{"log_level": "DEBUG"}, func(t *testing.T, plan *terraform.PlanStruct) {
			logging := planned(t, plan, "module.presence_function.aws_lambda_function.this")["logging_config"].([]any)[0].(map[string]any)
			assert.Equal(t, "DEBUG", logging["application_log_level"])
		}},
		{"item_ttl_days and status index", map[string]any{"item_ttl_days": 7, "status_index_enabled": true}, func(t *testing.T, plan *terraform.PlanStruct) {
			table := planned(t, plan, "aws_dynamodb_table.connectivity")
			ttl := table["ttl"].([]any)[0].(map[string]any)
			assert.Equal(t, "ExpiresAt", ttl["attribute_name"])
			index := table["global_secondary_index"].([]any)[0].(map[string]any)
			assert.Equal(t, "ByStatusShard", index["name"])
			assert.Equal(t, "StatusShard", index["hash_key"], "a two-valued Status key would make one hot index partition")
			assert.Equal(t, "LastUpdateTime", index["range_key"])
			env := planned(t, plan, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"]
			assert.Equal(t, "604800", env.(map[string]any)["ITEM_TTL_SECONDS"])
			assert.Equal(t, "64", env.(map[string]any)["STATUS_INDEX_SHARDS"])
		}},
		{"tags", map[string]any{"tags": map[string]string{"Team": "platform"}}, func(t *testing.T, plan *terraform.PlanStruct) {
			for _, address := range []string{
				"module.presence_function.aws_lambda_function.this", "module.presence_function.aws_cloudwatch_log_group.this",
				"aws_iot_topic_rule.lifecycle", "module.presence_function.aws_iam_role.this", "aws_iam_role.rule_errors", "aws_sqs_queue.dead_letter[0]",
			} {
				assert.Equal(t, map[string]any{"Team": "platform"}, planned(t, plan, address)["tags"], address)
			}
			// The table carries the deployment's settings beside them (TestPlanDeploymentSettings).
			assert.Equal(t, "platform", planned(t, plan, "aws_dynamodb_table.connectivity")["tags"].(map[string]any)["Team"])
		}},
		{"subscription events", map[string]any{"include_subscription_events": true}, func(t *testing.T, plan *terraform.PlanStruct) {
			sql := planned(t, plan, "aws_iot_topic_rule.lifecycle")["sql"].(string)
			assert.Contains(t, sql, "'$aws/events/subscriptions/'")
			assert.Contains(t, sql, "'$aws/events/presence/'")
		}},
		{"caller-supplied dead-letter queue with a customer managed key", map[string]any{"dead_letter_queue": map[string]string{
			"arn": "arn:aws:sqs:us-east-1:123456789012:existing", "url": "https://sqs.us-east-1.amazonaws.com/123456789012/existing",
			"kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		}}, func(t *testing.T, plan *terraform.PlanStruct) {
			assert.NotContains(t, plan.ResourceChangesMap, "aws_sqs_queue.dead_letter[0]")
			invoke := planned(t, plan, "aws_lambda_function_event_invoke_config.this")
			onFailure := invoke["destination_config"].([]any)[0].(map[string]any)["on_failure"].([]any)[0].(map[string]any)
			assert.Equal(t, "arn:aws:sqs:us-east-1:123456789012:existing", onFailure["destination"])
			// Both senders encrypt with the queue's key, or delivery fails silently. The
			// function's document waits for the table's ARN; the rule role's is known now.
			key := "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
			assert.ElementsMatch(t, []string{"kms:GenerateDataKey", "kms:Decrypt"},
				statementActions(t, change(t, plan, "data.aws_iam_policy_document.function"), key))
			var ruleErrors struct {
				Statement []struct {
					Action   any
					Resource any
				}
			}
			require.NoError(t, json.Unmarshal([]byte(planned(t, plan, "aws_iam_role_policy.rule_errors")["policy"].(string)), &ruleErrors))
			var granted []string
			for _, statement := range ruleErrors.Statement {
				if statement.Resource == key {
					for _, action := range statement.Action.([]any) {
						granted = append(granted, action.(string))
					}
				}
			}
			assert.ElementsMatch(t, []string{"kms:GenerateDataKey", "kms:Decrypt"}, granted)
		}},
		{"system_log_level", map[string]any{"system_log_level": "WARN"}, func(t *testing.T, plan *terraform.PlanStruct) {
			logging := planned(t, plan, "module.presence_function.aws_lambda_function.this")["logging_config"].([]any)[0].(map[string]any)
			assert.Equal(t, "WARN", logging["system_log_level"])
		}},
		{"record_unknown_connect_failures", map[string]any{"record_unknown_connect_failures": true}, func(t *testing.T, plan *terraform.PlanStruct) {
			env := planned(t, plan, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"]
			assert.Equal(t, "true", env.(map[string]any)["RECORD_UNKNOWN_CONNECT_FAILURES"])
		}},
		{"table_kms_key_arn", map[string]any{"table_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/abcd"}, func(t *testing.T, plan *terraform.PlanStruct) {
			sse := planned(t, plan, "aws_dynamodb_table.connectivity")["server_side_encryption"].([]any)[0].(map[string]any)
			assert.Equal(t, true, sse["enabled"])
			assert.Equal(t, "arn:aws:kms:us-east-1:123456789012:key/abcd", sse["kms_key_arn"])
		}},
		{"a 255-character table name keeps the description within Lambda's 256", map[string]any{"table_name": strings.Repeat("t", 255)}, func(t *testing.T, plan *terraform.PlanStruct) {
			assert.LessOrEqual(t, len(planned(t, plan, "module.presence_function.aws_lambda_function.this")["description"].(string)), 256)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, planModule(t, tc.vars))
		})
	}
}

// The function may only update and read its own table's items, write its own log
// group and send to its own queue: no wildcard actions, no wildcard resources beyond
// the log streams of its own group.
func TestPlanLeastPrivilege(t *testing.T) {
	t.Parallel()
	plan := planModule(t, map[string]any{})
	policy := change(t, plan, "data.aws_iam_policy_document.function")
	var actions []string
	for _, statement := range policy["statement"].([]any) {
		for _, action := range statement.(map[string]any)["actions"].([]any) {
			actions = append(actions, action.(string))
		}
	}
	sort.Strings(actions)
	assert.Equal(t, []string{"dynamodb:GetItem", "dynamodb:UpdateItem", "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}, actions)
	for _, action := range actions {
		assert.NotContains(t, action, "*")
	}

	permission := planned(t, plan, "aws_lambda_permission.iot")
	assert.Equal(t, "iot.amazonaws.com", permission["principal"])
	assert.Equal(t, "lambda:InvokeFunction", permission["action"])
	assert.NotEmpty(t, permission["source_account"])
	// Known at plan, so the permission exists before the rule goes live.
	ruleName := planned(t, plan, "aws_iot_topic_rule.lifecycle")["name"].(string)
	assert.Regexp(t, `^arn:aws:iot:[a-z0-9-]+:\d{12}:rule/`+ruleName+`$`, permission["source_arn"])
	assert.Contains(t, configuredDependsOn(t, plan, "aws_iot_topic_rule.lifecycle"), "aws_lambda_permission.iot")

	// IoT may assume the error action's role only for this rule of this account.
	var trust struct {
		Statement []struct {
			Condition map[string]map[string]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(planned(t, plan, "aws_iam_role.rule_errors")["assume_role_policy"].(string)), &trust))
	require.Len(t, trust.Statement, 1)
	assert.Equal(t, permission["source_arn"], trust.Statement[0].Condition["ArnLike"]["aws:SourceArn"])
	assert.Equal(t, permission["source_account"], trust.Statement[0].Condition["StringEquals"]["aws:SourceAccount"])
}

// configuredDependsOn is the depends_on of a resource as the configuration writes it.
func configuredDependsOn(t *testing.T, plan *terraform.PlanStruct, address string) []string {
	t.Helper()
	for _, resource := range plan.RawPlan.Config.RootModule.Resources {
		if resource.Address == address {
			return resource.DependsOn
		}
	}
	t.Fatalf("%s is not configured", address)
	return nil
}

// statementActions lists the actions a policy document grants on a resource.
func statementActions(t *testing.T, document map[string]any, resource string) []string {
	t.Helper()
	var actions []string
	for _, statement := range document["statement"].([]any) {
		s := statement.(map[string]any)
		for _, r := range s["resources"].([]any) {
			if r == resource {
				for _, action := range s["actions"].([]any) {
					actions = append(actions, action.(string))
				}
			}
		}
	}
	return actions
}

func TestPlanPrebuiltPackageSkipsTheBuild(t *testing.T) {
	t.Parallel()
	plan := planModule(t, map[string]any{"package_path": "function/tests/fixtures/connected.json"})
	assert.NotContains(t, plan.ResourceChangesMap, "terraform_data.build[0]")
	assert.Equal(t, "function/tests/fixtures/connected.json", planned(t, plan, "module.presence_function.aws_lambda_function.this")["filename"])
}

func TestPlanRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		vars    map[string]any
		message string
	}{
		"retention":       {map[string]any{"log_retention_in_days": 8}, "log_retention_in_days must be one of"},
		"architecture":    {map[string]any{"architecture": "sparc"}, "architecture must be x86_64 or arm64"},
		"name":            {map[string]any{"name": "has spaces"}, "name must start with a letter"},
		"table name":      {map[string]any{"table_name": "x"}, "table_name must be 3 to 255"},
		"two packages":    {map[string]any{"package_path": "Cargo.toml", "s3_package": map[string]string{"bucket": "b", "key": "k"}}, "Set at most one of package_path and s3_package"},
		"prefix w/ comma": {map[string]any{"ignored_client_id_prefixes": []string{"a,b"}}, "without commas"},
		"fifo dead-letter queue": {map[string]any{"dead_letter_queue": map[string]string{
			"arn": "arn:aws:sqs:us-east-1:123456789012:dlq.fifo", "url": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq.fifo",
		}}, "dead_letter_queue must be a standard queue"},
		"system log level":            {map[string]any{"system_log_level": "ERROR"}, "system_log_level must be DEBUG, INFO or WARN"},
		"reserved event source":       {map[string]any{"events_enabled": true, "event_source": "aws.iot"}, "must not start with"},
		"grace period":                {map[string]any{"disconnect_grace_period_seconds": 86401}, "disconnect_grace_period_seconds must be a whole number from 0 to 86400"},
		"stream view with events":     {map[string]any{"events_enabled": true, "stream_view_type": "KEYS_ONLY"}, "each need the stream's NEW_AND_OLD_IMAGES view"},
		"status index shards":         {map[string]any{"status_index_shards": 0}, "status_index_shards must be a whole number from 1 to 1024"},
		"metrics hidden by log level": {map[string]any{"metrics_enabled": true, "log_level": "WARN"}, "metrics_enabled needs log_level TRACE, DEBUG or INFO"},
		"count without metrics":       {map[string]any{"connected_devices_metric_enabled": true}, "set metrics_enabled = true too"},
		"counter shards":              {map[string]any{"connected_devices_counter_shards": 101}, "connected_devices_counter_shards must be a whole number from 1 to 100"},
		"fractional memory":           {map[string]any{"memory_size": 128.5}, "memory_size must be between 128 and 10240 MB (a whole number)"},
		"fractional timeout":          {map[string]any{"timeout": 2.5}, "timeout must be between 1 and 900 seconds (a whole number)"},
		"grace check concurrency":     {map[string]any{"grace_check_max_concurrency": 1}, "grace_check_max_concurrency must be a whole number from 2 to 1000"},
		"table key not an ARN":        {map[string]any{"table_kms_key_arn": "my-key"}, "table_kms_key_arn must be a KMS key ARN"},
		"log key not an ARN":          {map[string]any{"log_kms_key_arn": "alias/logs"}, "log_kms_key_arn must be a KMS key ARN"},
		"dead-letter queue not an ARN": {map[string]any{"dead_letter_queue": map[string]string{
			"arn": "dlq", "url": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
		}}, "dead_letter_queue.arn must be an SQS queue ARN"},
		"alarm action not an ARN": {map[string]any{"alarms": map[string]any{"alarm_actions": []string{"oncall@example.com"}}}, "must be ARNs"},
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

// nameLimit is what AWS accepts in a name: at most max characters, matching pattern
// (when not empty).
type nameLimit struct {
	max     int
	pattern string
}

// awsNameLimits holds, for each resource type the module creates a name of, the limit of
// each name attribute, from the services' API references.
var awsNameLimits = map[string]map[string]nameLimit{
	"aws_lambda_function":         {"function_name": {64, `^[A-Za-z0-9_-]+$`}},   // CreateFunction FunctionName
	"aws_iam_role":                {"name": {64, `^[\w+=,.@-]+$`}},               // CreateRole RoleName
	"aws_iam_role_policy":         {"name": {128, `^[\w+=,.@-]+$`}},              // PutRolePolicy PolicyName
	"aws_cloudwatch_event_rule":   {"name": {64, `^[A-Za-z0-9_.-]+$`}},           // PutRule Name
	"aws_sqs_queue":               {"name": {80, `^[A-Za-z0-9_-]+$`}},            // CreateQueue QueueName (standard)
	"aws_iot_topic_rule":          {"name": {128, `^[a-zA-Z0-9_]+$`}},            // CreateTopicRule ruleName
	"aws_cloudwatch_log_group":    {"name": {512, `^[A-Za-z0-9_./#-]+$`}},        // CreateLogGroup logGroupName
	"aws_cloudwatch_metric_alarm": {"alarm_name": {255, ""}},                     // PutMetricAlarm AlarmName
	"aws_cloudwatch_dashboard":    {"dashboard_name": {255, `^[A-Za-z0-9_-]+$`}}, // PutDashboard DashboardName
	"aws_dynamodb_table":          {"name": {255, `^[A-Za-z0-9_.-]{3,}$`}},       // CreateTable TableName
	"aws_schemas_schema":          {"name": {385, `^[A-Za-z0-9_.@-]+$`}},         // CreateSchema SchemaName
}

// unnamedTypes are the module's resource types that name nothing after var.name or
// var.table_name; a new type must join one map or the other.
var unnamedTypes = []string{
	"aws_cloudwatch_event_target", "aws_lambda_event_source_mapping", "aws_lambda_function_event_invoke_config",
	"aws_lambda_permission", "terraform_data",
}

// TestPlanNamesFitAwsLimits: every name the module builds fits AWS's limits, whatever name
// the validation accepts. The longest accepted name, with every feature on, plans names
// within the limits, and one character more is refused at plan (not at apply, by AWS).
func TestPlanNamesFitAwsLimits(t *testing.T) {
	t.Parallel()
	const longest = 34 // what the module accepts with events_enabled (its longest names)
	nameOf := func(length int) string {
		name := uniqueName()
		return name + strings.Repeat("x", length-len(name))
	}

	t.Run("the longest accepted name", func(t *testing.T) {
		t.Parallel()
		// The longest table name whose derived tables (<table_name>-history, -counts, -fleet) fit.
		tableName := strings.Repeat("t", 255-len("-history"))
		plan := planModule(t, map[string]any{
			"name": nameOf(longest), "table_name": tableName,
			"events_enabled": true, "status_index_enabled": true, "history_enabled": true, "include_subscription_events": true,
			"metrics_enabled": true, "connected_devices_metric_enabled": true,
			"dashboard_enabled": true, "alarms": map[string]any{"alarm_actions": []string{"arn:aws:sns:us-east-1:123456789012:oncall"}},
			"thing_context_enabled": true, "maintenance_windows_enabled": true, "schema_registry_name": "fleet-events",
			"disconnect_grace_period_overrides": []map[string]any{{"thing_type": "battery-sensor", "seconds": 900}},
			"storm_digest":                      map[string]any{"threshold": 50, "window_seconds": 120, "group_by": "thing_group"},
		})

		checked := map[string]int{}
		longest64 := 0
		for address, resource := range plan.ResourcePlannedValuesMap {
			if resource.Mode != "managed" {
				continue
			}
			attributes, named := awsNameLimits[resource.Type]
			if !named {
				assert.Contains(t, unnamedTypes, resource.Type, "%s: add the AWS limit of its name to awsNameLimits", address)
				continue
			}
			for attribute, limit := range attributes {
				value, known := resource.AttributeValues[attribute].(string)
				if !assert.True(t, known, "%s.%s is not known at plan", address, attribute) {
					continue
				}
				assert.LessOrEqual(t, len(value), limit.max, "%s.%s = %q: %d characters, AWS allows %d", address, attribute, value, len(value), limit.max)
				if limit.pattern != "" {
					assert.Regexp(t, limit.pattern, value, "%s.%s: characters AWS refuses", address, attribute)
				}
				if limit.max == 64 {
					longest64 = max(longest64, len(value))
				}
				checked[resource.Type]++
			}
		}
		for resourceType := range awsNameLimits {
			assert.Positive(t, checked[resourceType], "no %s planned: turn on the feature that creates it", resourceType)
		}
		assert.Equal(t, 64, longest64, "the longest accepted name fills a 64-character limit exactly: a longer one would not fit, a shorter limit turns away names AWS takes")
	})

	// Each feature's longest name, one character past its limit, is refused at plan with
	// a message that says why; with neither feature, 38 characters fit.
	for _, tc := range []struct {
		feature string
		vars    map[string]any
		longest int
		message string
	}{
		{"events", map[string]any{"events_enabled": true}, longest, "With events_enabled, name may have at most 34 characters"},
		{"counting", map[string]any{"metrics_enabled": true, "connected_devices_metric_enabled": true}, 36, "With connected_devices_metric_enabled, name may have at most 36 characters"},
		{"neither", map[string]any{}, 38, "name must start with a letter and hold at most 38"},
	} {
		t.Run("one character more is refused with "+tc.feature, func(t *testing.T) {
			t.Parallel()
			vars := map[string]any{"name": nameOf(tc.longest + 1)}
			for key, value := range tc.vars {
				vars[key] = value
			}
			options := moduleOptions(t, vars)
			terraform.InitContext(t, t.Context(), options)
			_, err := terraform.PlanContextE(t, t.Context(), options)
			require.Error(t, err, "a %d-character name is accepted", tc.longest+1)
			assert.Contains(t, strings.Join(strings.Fields(err.Error()), " "), tc.message)
		})
	}
}

// TestPlanExamples plans every example as a user starting from it would: each is a
// complete root module that plans with no input but its name (and, for pagerduty, the
// ARN of the routing key's secret, which is kept out of Terraform).
func TestPlanExamples(t *testing.T) {
	t.Parallel()
	target(t)
	examples, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "*", "main.tf"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(examples), 3)
	for _, example := range examples {
		name := filepath.Base(filepath.Dir(example))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]any{"name": uniqueName()}
			if name == "prebuilt-package" {
				// Plan reads only the zip's hash; what it holds is tested in prebuilt_test.go.
				vars["package_path"] = zipWithBootstrap(t)
			}
			if name == "pagerduty" {
				// The routing key's secret is created outside Terraform, so its ARN is the
				// one input the example needs besides its name.
				vars["routing_key_secret_arn"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pagerduty-AbCdEf"
			}
			options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
				TerraformDir: filepath.Join(copyRepo(t), "examples", name),
				Vars:         vars,
				EnvVars:      terraformEnv(t),
				NoColor:      true,
				PlanFilePath: "test.tfplan",
			})
			terraform.InitContext(t, t.Context(), options)
			terraform.PlanContext(t, t.Context(), options)
			plan := terraform.ShowWithStructContext(t, t.Context(), options)
			table := planned(t, plan, "module.device_connectivity.aws_dynamodb_table.connectivity")
			assert.NotEmpty(t, table["name"])
			assert.Contains(t, plan.ResourcePlannedValuesMap, "module.device_connectivity.module.presence_function.aws_lambda_function.this")
		})
	}
}

func zipWithBootstrap(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bootstrap.zip")
	file, err := os.Create(path)
	require.NoError(t, err)
	defer file.Close()
	archive := zip.NewWriter(file)
	_, err = archive.Create("bootstrap")
	require.NoError(t, err)
	require.NoError(t, archive.Close())
	return path
}

// TestPlanObservability: metrics, alarms and the dashboard cost nothing until asked for,
// and then cover the whole pipeline.
func TestPlanObservability(t *testing.T) {
	t.Parallel()
	off := planModule(t, map[string]any{"events_enabled": true})
	for address := range off.ResourceChangesMap {
		assert.NotContains(t, address, "aws_cloudwatch_metric_alarm", "no alarm by default")
		assert.NotContains(t, address, "aws_cloudwatch_dashboard", "no dashboard by default")
	}
	env := planned(t, off, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"].(map[string]any)
	assert.NotContains(t, env, "METRICS_NAMESPACE")

	topic := "arn:aws:sns:us-east-1:123456789012:oncall"
	name := uniqueName()
	on := planModule(t, map[string]any{
		"name": name, "events_enabled": true, "status_index_enabled": true, "metrics_enabled": true,
		"dashboard_enabled": true, "alarms": map[string]any{"alarm_actions": []string{topic}},
	})
	// The notifier's environment is known only at apply (its queue URL); the e2e tier
	// reads its Announcements metric.
	env = planned(t, on, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"].(map[string]any)
	assert.Equal(t, "IoTDeviceConnectivity", env["METRICS_NAMESPACE"])
	assert.Equal(t, name, env["METRICS_DEPLOYMENT"])
	alarms := map[string]string{}
	for address, resource := range on.ResourcePlannedValuesMap {
		if strings.HasPrefix(address, "aws_cloudwatch_metric_alarm.this") {
			alarms[resource.AttributeValues["metric_name"].(string)+" "+resource.AttributeValues["namespace"].(string)] = address
			assert.Equal(t, []any{topic}, resource.AttributeValues["alarm_actions"], address)
			missing := "notBreaching"
			if strings.Contains(address, "backlog-age") {
				missing = "breaching" // every reconcile pass publishes it: silence means no pass
			}
			assert.Equal(t, missing, resource.AttributeValues["treat_missing_data"], address)
		}
	}
	for _, metric := range []string{
		"ApproximateNumberOfMessagesVisible AWS/SQS", "Errors AWS/Lambda", "Throttles AWS/Lambda",
		"AsyncEventsDropped AWS/Lambda", "DestinationDeliveryFailures AWS/Lambda", "WriteThrottleEvents AWS/DynamoDB",
		"Failure AWS/IoT", "RuleMessageThrottled AWS/IoT", "IteratorAge AWS/Lambda",
		"Failed IoTDeviceConnectivity", "OldestOwedAgeSeconds IoTDeviceConnectivity",
	} {
		assert.Contains(t, alarms, metric)
	}
	assert.Len(t, alarms, 11, "distinct metrics watched")
	failed := planned(t, on, "aws_cloudwatch_metric_alarm.this[\"announcements-failed\"]")
	assert.Equal(t, 3.0, failed["evaluation_periods"], "a burst of failures retried by the next pass pages nobody")
	assert.Equal(t, map[string]any{"Deployment": name}, failed["dimensions"], "as the notifier publishes it")
	backlog := planned(t, on, "aws_cloudwatch_metric_alarm.this[\"announcements-backlog-age\"]")
	assert.Equal(t, 60.0+2*60, backlog["threshold"], "the grace period and two reconcile intervals")
	index := planned(t, on, "aws_cloudwatch_metric_alarm.this[\"status-index-write-throttles\"]")
	assert.Equal(t, "ByStatusShard", index["dimensions"].(map[string]any)["GlobalSecondaryIndexName"])
	iteratorAge := planned(t, on, "aws_cloudwatch_metric_alarm.this[\"notifier-iterator-age\"]")
	assert.Equal(t, 300000.0, iteratorAge["threshold"])

	var dashboard struct {
		Widgets []struct{ Properties map[string]any }
	}
	require.NoError(t, json.Unmarshal([]byte(planned(t, on, "aws_cloudwatch_dashboard.this[0]")["dashboard_body"].(string)), &dashboard))
	assert.Len(t, dashboard.Widgets, 6)
}

// TestPlanConnectedDevices: the count is built only when asked for, reads the stream
// from its start with only the records that can change it, and publishes on a schedule
// EventBridge may invoke.
func TestPlanConnectedDevices(t *testing.T) {
	t.Parallel()
	off := planModule(t, map[string]any{"metrics_enabled": true})
	for address := range off.ResourceChangesMap {
		assert.NotContains(t, address, "counter", "created with the count off: %s", address)
		assert.NotContains(t, address, "counts", "created with the count off: %s", address)
	}

	name := uniqueName()
	plan := planModule(t, map[string]any{
		"name": name, "table_name": name + "-table", "metrics_enabled": true,
		"connected_devices_metric_enabled": true, "connected_devices_counter_shards": 32,
	})
	table := planned(t, plan, "aws_dynamodb_table.connectivity")
	assert.Equal(t, true, table["stream_enabled"], "the stream feeds the count, events or not")
	assert.Equal(t, "NEW_AND_OLD_IMAGES", table["stream_view_type"])

	counts := planned(t, plan, "aws_dynamodb_table.counts[0]")
	assert.Equal(t, name+"-table-counts", counts["name"])
	assert.Equal(t, "Key", counts["hash_key"])
	assert.Equal(t, "PAY_PER_REQUEST", counts["billing_mode"])

	counter := planned(t, plan, "module.counter[0].aws_lambda_function.this")
	assert.Equal(t, "counter", counter["handler"])
	env := counter["environment"].([]any)[0].(map[string]any)["variables"].(map[string]any)
	assert.Equal(t, name+"-table-counts", env["COUNTS_TABLE_NAME"])
	assert.Equal(t, "32", env["COUNTER_SHARDS"])
	assert.Equal(t, name, env["METRICS_DEPLOYMENT"])

	mapping := planned(t, plan, "aws_lambda_event_source_mapping.counter[0]")
	assert.Equal(t, "TRIM_HORIZON", mapping["starting_position"], "nothing written before the mapping is missed")
	assert.Equal(t, []any{"ReportBatchItemFailures"}, mapping["function_response_types"])
	filters := mapping["filter_criteria"].([]any)[0].(map[string]any)["filter"].([]any)
	assert.Len(t, filters, 4, "status changes, a first Connected, removals")

	rule := planned(t, plan, "aws_cloudwatch_event_rule.count[0]")
	assert.Equal(t, "rate(1 minute)", rule["schedule_expression"])
	permission := planned(t, plan, "aws_lambda_permission.count[0]")
	assert.Equal(t, "events.amazonaws.com", permission["principal"])

	assert.Equal(t, []string{
		"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:DescribeStream", "dynamodb:GetRecords",
		"dynamodb:GetShardIterator", "dynamodb:ListStreams", "dynamodb:UpdateItem",
		"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage",
	}, policyActions(change(t, plan, "data.aws_iam_policy_document.counter[0]")))
}

// TestPlanHistory: off, nothing of history exists; on, a table keyed by client and event
// with TTL, which the presence function may only PutItem into.
func TestPlanHistory(t *testing.T) {
	t.Parallel()
	off := planModule(t, map[string]any{})
	for address := range off.ResourceChangesMap {
		assert.NotContains(t, address, "history", "created with history off: %s", address)
	}
	offEnv := planned(t, off, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"].(map[string]any)
	assert.NotContains(t, offEnv, "HISTORY_TABLE_NAME")

	name := uniqueName()
	plan := planModule(t, map[string]any{
		"name": name, "table_name": name + "-table", "history_enabled": true, "history_retention_days": 30,
	})
	table := planned(t, plan, "aws_dynamodb_table.history[0]")
	assert.Equal(t, name+"-table-history", table["name"])
	assert.Equal(t, "ClientID", table["hash_key"])
	assert.Equal(t, "EventKey", table["range_key"])
	ttl := table["ttl"].([]any)[0].(map[string]any)
	assert.Equal(t, "ExpiresAt", ttl["attribute_name"])
	assert.Equal(t, true, ttl["enabled"])

	env := planned(t, plan, "module.presence_function.aws_lambda_function.this")["environment"].([]any)[0].(map[string]any)["variables"].(map[string]any)
	assert.Equal(t, name+"-table-history", env["HISTORY_TABLE_NAME"])
	assert.Equal(t, "2592000", env["HISTORY_RETENTION_SECONDS"])

	// The table's ARN is known only at apply: the statement is found by its Sid.
	var historyActions []any
	for _, statement := range change(t, plan, "data.aws_iam_policy_document.function")["statement"].([]any) {
		if s := statement.(map[string]any); s["sid"] == "HistoryEvents" {
			historyActions = s["actions"].([]any)
		}
	}
	assert.Equal(t, []any{"dynamodb:PutItem"}, historyActions, "PutItem only, on the history table only")
}

// TestPlanOnePackage: every function the module creates deploys the same package, built
// once or given once, and names its role in its handler.
func TestPlanOnePackage(t *testing.T) {
	t.Parallel()
	everything := map[string]any{"events_enabled": true, "metrics_enabled": true, "connected_devices_metric_enabled": true}
	roles := map[string]string{
		"module.presence_function.aws_lambda_function.this": "presence",
		"module.notifier[0].aws_lambda_function.this":       "notifier",
		"module.counter[0].aws_lambda_function.this":        "counter",
	}
	assertOnePackage := func(t *testing.T, plan *terraform.PlanStruct, want func(string) bool) {
		t.Helper()
		var filenames []any
		for address, role := range roles {
			function := planned(t, plan, address)
			assert.Equal(t, role, function["handler"], address)
			filenames = append(filenames, function["filename"])
		}
		assert.Len(t, slices.Compact(filenames), 1, "one package for every function: %v", filenames)
		assert.True(t, want(filenames[0].(string)), "%v", filenames[0])
	}

	t.Run("built", func(t *testing.T) {
		t.Parallel()
		plan := planModule(t, everything)
		assertOnePackage(t, plan, func(filename string) bool { return strings.HasSuffix(filename, "/bootstrap/bootstrap.zip") })
		build := change(t, plan, "terraform_data.build[0]")
		assert.Contains(t, build["triggers_replace"].(map[string]any), "source_hash")
		assert.NotContains(t, build["triggers_replace"].(map[string]any), "binaries", "one binary whatever is enabled")
	})
	t.Run("prebuilt", func(t *testing.T) {
		t.Parallel()
		zip := zipWithBootstrap(t)
		vars := maps.Clone(everything)
		vars["package_path"] = zip
		plan := planModule(t, vars)
		assertOnePackage(t, plan, func(filename string) bool { return filename == zip })
		for address := range plan.ResourceChangesMap {
			assert.NotContains(t, address, "terraform_data.build", "nothing is built with a prebuilt package")
		}
	})
}

// TestPlanDeploymentSettings: the table carries the settings that shape a write, so the
// operators' CLIs need only its name (function/src/shared/deployment.rs reads these tags).
func TestPlanDeploymentSettings(t *testing.T) {
	t.Parallel()
	settingsOf := func(plan *terraform.PlanStruct) map[string]any {
		tags := planned(t, plan, "aws_dynamodb_table.connectivity")["tags"].(map[string]any)
		settings := map[string]any{}
		for key, value := range tags {
			if strings.HasPrefix(key, "iot-connectivity:") {
				settings[strings.TrimPrefix(key, "iot-connectivity:")] = value
			}
		}
		return settings
	}

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		plan := planModule(t, map[string]any{"tags": map[string]string{"team": "fleet", "iot-connectivity:status-index-shards": "7"}})
		assert.Equal(t, map[string]any{
			"settings-version":                "1",
			"status-index-shards":             "off",
			"item-ttl-seconds":                "off",
			"record-unknown-connect-failures": "false",
			"ignored-client-id-prefixes":      "W10=", // base64 of []
			"counts-table":                    "off",
			"announcements":                   "false",
			"history-table":                   "off",
		}, settingsOf(plan), "a caller's tag never overrides a setting")
		assert.Equal(t, "fleet", planned(t, plan, "aws_dynamodb_table.connectivity")["tags"].(map[string]any)["team"])
	})
	t.Run("everything on", func(t *testing.T) {
		t.Parallel()
		name := uniqueName()
		plan := planModule(t, map[string]any{
			"name": name, "table_name": name + "-table",
			"status_index_enabled": true, "status_index_shards": 16, "item_ttl_days": 2,
			"record_unknown_connect_failures": true, "ignored_client_id_prefixes": []string{"iotconsole", "test/"},
			"metrics_enabled": true, "connected_devices_metric_enabled": true, "connected_devices_counter_shards": 8,
			"events_enabled": true, "history_enabled": true, "history_retention_days": 30,
			"thing_context_enabled": true, "maintenance_windows_enabled": true,
		})
		assert.Equal(t, map[string]any{
			"settings-version":                "1",
			"status-index-shards":             "16",
			"item-ttl-seconds":                "172800",
			"record-unknown-connect-failures": "true",
			"ignored-client-id-prefixes":      "WyJpb3Rjb25zb2xlIiwidGVzdC8iXQ==", // base64 of ["iotconsole","test/"]
			"counts-table":                    name + "-table-counts",
			"counter-shards":                  "8",
			"announcements":                   "true",
			"history-table":                   name + "-table-history",
			"history-retention-seconds":       "2592000",
			"fleet-table":                     name + "-table-fleet",
		}, settingsOf(plan))
	})
}
