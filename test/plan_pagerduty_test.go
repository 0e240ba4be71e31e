//go:build plan

package test

// modules/pagerduty, planned standalone: the pager function (the `pager` role of the one
// bootstrap package) gets exactly its environment with the routes' defaults filled in,
// its role reads only the routing key secrets it is given (by ARN, never "*"), nothing
// in the plan holds a routing key, and every input that cannot work is refused at plan.

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/shell"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	pagerdutySecret      = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pd-AbCdEf"
	pagerdutyNorthSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pd-north-GhIjKl"
	pagerdutySecretKey   = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	// What the console shows for the queues' URLs, known only at apply.
	pagerdutyUnknown = "(known after apply)"
)

// The pager's environment: these names, no more, no fewer (function/src/paging/pager.rs
// reads them).
var pagerdutyEnvironmentNames = []string{
	"PAGERDUTY_EVENTS_URL", "PAGERDUTY_RATE_PER_MINUTE", "PAGERDUTY_ROUTES", "PAGERDUTY_ROUTING_KEY_SECRET_ARN",
	"PAGERDUTY_SEVERITY", "PAGER_DEAD_LETTER_QUEUE_URL", "PAGER_DEPLOYMENT", "PAGER_QUEUE_URL",
	"PAGER_STORM_WAIT_SECONDS", "PAGER_TABLE_NAME", "PAGE_MAINTENANCE",
}

func pagerdutyOptions(t *testing.T, vars map[string]any) *terraform.Options {
	t.Helper()
	target(t)
	defaults := map[string]any{
		"name":                   uniqueName(),
		"event_source":           "iot.device-connectivity",
		"routing_key_secret_arn": pagerdutySecret,
		// Never built or uploaded: the plan only names it.
		"lambda_package": map[string]any{"filename": "bootstrap.zip"},
	}
	for key, value := range defaults {
		if _, ok := vars[key]; !ok {
			vars[key] = value
		}
	}
	return terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: filepath.Join(copyRepo(t), "modules", "pagerduty"),
		Vars:         vars,
		NoColor:      true,
		PlanFilePath: "test.tfplan",
	})
}

func planPagerduty(t *testing.T, vars map[string]any) (*terraform.PlanStruct, *terraform.Options) {
	t.Helper()
	options := pagerdutyOptions(t, vars)
	terraform.InitContext(t, t.Context(), options)
	terraform.PlanContext(t, t.Context(), options)
	return terraform.ShowWithStructContext(t, t.Context(), options), options
}

// pagerEnvironment is local.environment (what main.tf gives the function) as `terraform
// console -plan` evaluates it with the same variables: the queues' URLs, known only at
// apply, leave the function's whole environment unknown in the plan itself.
func pagerEnvironment(t *testing.T, options *terraform.Options) map[string]string {
	t.Helper()
	args := append([]string{"console", "-plan"}, terraform.FormatTerraformVarsAsArgs(options.Vars)...)
	expression := `jsonencode({ for key, value in local.environment : key => ` +
		`contains(["PAGER_QUEUE_URL", "PAGER_DEAD_LETTER_QUEUE_URL"], key) ? "` + pagerdutyUnknown + `" : value })`
	output, err := shell.RunCommandContextAndGetStdOutE(t, t.Context(), &shell.Command{
		Command:    "terraform",
		Args:       args,
		WorkingDir: options.TerraformDir,
		Env:        options.EnvVars,
		Stdin:      strings.NewReader(expression + "\n"),
	})
	require.NoError(t, err, "terraform console: %s", output)
	lines := strings.Split(strings.TrimSpace(output), "\n")
	text, err := strconv.Unquote(lines[len(lines)-1])
	require.NoError(t, err, "the console's answer is not a string: %s", output)
	environment := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(text), &environment), "%s", text)
	return environment
}

// asJSON is a value as it reads back from JSON.
func asJSON(t *testing.T, value any) any {
	t.Helper()
	content, err := json.Marshal(value)
	require.NoError(t, err)
	var decoded any
	require.NoError(t, json.Unmarshal(content, &decoded))
	return decoded
}

// pagerPolicyStatements are the statements of the function's policy as planned (its
// resources are read at apply: the table's and queues' ARNs are unknown at plan, and
// their statements show no resources).
func pagerPolicyStatements(t *testing.T, plan *terraform.PlanStruct) []map[string]any {
	t.Helper()
	var statements []map[string]any
	for _, statement := range change(t, plan, "data.aws_iam_policy_document.function")["statement"].([]any) {
		statements = append(statements, statement.(map[string]any))
	}
	return statements
}

// stringsOf is a planned list's known strings, sorted (a value known only at apply reads
// as null in the plan and is left out).
func stringsOf(value any) []string {
	list, _ := value.([]any)
	texts := make([]string, 0, len(list))
	for _, item := range list {
		if text, ok := item.(string); ok {
			texts = append(texts, text)
		}
	}
	sort.Strings(texts)
	return texts
}

// assertLeastPrivilege: no "*" resource or action (only the own log group's streams), the
// secrets only by the ARNs given, and KMS only through Secrets Manager on the keys given.
func assertLeastPrivilege(t *testing.T, plan *terraform.PlanStruct, secrets, keys []string) {
	t.Helper()
	statements := pagerPolicyStatements(t, plan)
	var actions []string
	for _, statement := range statements {
		statementActions := stringsOf(statement["actions"])
		actions = append(actions, statementActions...)
		for _, resource := range stringsOf(statement["resources"]) {
			assert.NotEqual(t, "*", resource, "statement %v grants on every resource", statement["sid"])
			// The one wildcard: the log streams of the function's own log group.
			if strings.Contains(resource, "*") {
				assert.Equal(t, "OwnLogGroup", statement["sid"], "statement %v grants on %q", statement["sid"], resource)
				assert.True(t, strings.HasSuffix(resource, ":*") && strings.Count(resource, "*") == 1, "%q", resource)
			}
		}
		for _, action := range statementActions {
			assert.NotContains(t, action, "*")
			if strings.HasPrefix(action, "secretsmanager:") {
				assert.Equal(t, "RoutingKeys", statement["sid"], "only the routing keys' statement reads secrets")
			}
		}
	}
	sort.Strings(actions)
	want := []string{
		"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem",
		"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage", "sqs:SendMessage",
	}
	if len(keys) > 0 {
		want = append(want, "kms:Decrypt")
	}
	sort.Strings(want)
	assert.Equal(t, want, actions)

	routingKeys := pagerStatement(statements, "RoutingKeys")
	require.NotNil(t, routingKeys, "the role reads the routing key secrets")
	assert.Equal(t, []string{"secretsmanager:GetSecretValue"}, stringsOf(routingKeys["actions"]))
	sort.Strings(secrets)
	assert.Equal(t, secrets, stringsOf(routingKeys["resources"]), "GetSecretValue on exactly the secrets given")

	secretKeys := pagerStatement(statements, "RoutingKeysKeys")
	if len(keys) == 0 {
		assert.Nil(t, secretKeys, "no KMS permission without secret_kms_key_arns")
		return
	}
	require.NotNil(t, secretKeys)
	assert.Equal(t, []string{"kms:Decrypt"}, stringsOf(secretKeys["actions"]))
	assert.Equal(t, keys, stringsOf(secretKeys["resources"]))
	condition := secretKeys["condition"].([]any)[0].(map[string]any)
	assert.Equal(t, "kms:ViaService", condition["variable"])
	assert.Regexp(t, `^secretsmanager\.[a-z0-9-]+\.amazonaws\.com$`, stringsOf(condition["values"])[0])
}

// pagerStatement is the statement with this Sid (nil: none).
func pagerStatement(statements []map[string]any, sid string) map[string]any {
	for _, statement := range statements {
		if statement["sid"] == sid {
			return statement
		}
	}
	return nil
}

// assertNoSecretValue: the plan holds the routing keys' ARNs only. Nothing of the
// configuration reads or writes a secret's value: no aws_secretsmanager_* resource or data
// source (a secret version, even one only read, puts the key in state).
func assertNoSecretValue(t *testing.T, plan *terraform.PlanStruct) {
	t.Helper()
	root := plan.RawPlan.Config.RootModule
	configured := map[string]string{}
	for _, resource := range root.Resources {
		configured[resource.Address] = resource.Type
	}
	for name, call := range root.ModuleCalls {
		for _, resource := range call.Module.Resources {
			configured["module."+name+"."+resource.Address] = resource.Type
		}
	}
	require.Contains(t, configured, "module.pager_function.aws_lambda_function.this", "the configuration is read, the function module's too")
	for address, kind := range configured {
		assert.False(t, strings.HasPrefix(kind, "aws_secretsmanager_"), "%s reads or writes a secret", address)
	}
	for address, resource := range plan.ResourceChangesMap {
		assert.False(t, strings.HasPrefix(resource.Type, "aws_secretsmanager_"), "%s is planned", address)
	}
}

func TestPlanPagerduty(t *testing.T) {
	t.Parallel()
	name := uniqueName()
	routes := []map[string]any{
		{"thing_group": "site-north", "routing_key_secret_arn": pagerdutyNorthSecret},
		{"thing_type": "battery-sensor", "severity": "warning"},
		{"attribute": map[string]any{"name": "tier", "value": "gold"}},
	}
	plan, options := planPagerduty(t, map[string]any{
		"name":                name,
		"event_bus_name":      "fleet",
		"event_source":        "acme.connectivity",
		"routes":              routes,
		"severity":            "error",
		"events_url":          "http://127.0.0.1:8080/v2/enqueue",
		"page_maintenance":    true,
		"rate_per_minute":     60,
		"storm_wait_seconds":  45,
		"secret_kms_key_arns": []string{pagerdutySecretKey},
		"alarm_actions":       []string{"arn:aws:sns:us-east-1:123456789012:oncall"},
		"tags":                map[string]string{"Team": "iot"},
	})

	// (a) Exactly the pager's environment, each route with the defaults filled in.
	environment := pagerEnvironment(t, options)
	assert.ElementsMatch(t, pagerdutyEnvironmentNames, mapKeys(environment))
	assert.Equal(t, name+"-pages", environment["PAGER_TABLE_NAME"])
	assert.Equal(t, pagerdutyUnknown, environment["PAGER_QUEUE_URL"])
	assert.Equal(t, pagerdutyUnknown, environment["PAGER_DEAD_LETTER_QUEUE_URL"])
	assert.Equal(t, "http://127.0.0.1:8080/v2/enqueue", environment["PAGERDUTY_EVENTS_URL"])
	assert.Equal(t, pagerdutySecret, environment["PAGERDUTY_ROUTING_KEY_SECRET_ARN"])
	assert.Equal(t, "error", environment["PAGERDUTY_SEVERITY"])
	assert.Equal(t, "true", environment["PAGE_MAINTENANCE"])
	assert.Equal(t, "60", environment["PAGERDUTY_RATE_PER_MINUTE"])
	assert.Equal(t, "45", environment["PAGER_STORM_WAIT_SECONDS"])
	assert.Equal(t, name, environment["PAGER_DEPLOYMENT"])
	var gotRoutes any
	require.NoError(t, json.Unmarshal([]byte(environment["PAGERDUTY_ROUTES"]), &gotRoutes))
	assert.Equal(t, asJSON(t, []map[string]any{
		{"thing_group": "site-north", "thing_type": nil, "attribute": nil, "routing_key_secret_arn": pagerdutyNorthSecret, "severity": "error"},
		{"thing_group": nil, "thing_type": "battery-sensor", "attribute": nil, "routing_key_secret_arn": pagerdutySecret, "severity": "warning"},
		{"thing_group": nil, "thing_type": nil, "attribute": map[string]any{"name": "tier", "value": "gold"}, "routing_key_secret_arn": pagerdutySecret, "severity": "error"},
	}), gotRoutes)
	// What the console read is what the function gets.
	call := plan.RawPlan.Config.RootModule.ModuleCalls["pager_function"]
	require.NotNil(t, call)
	assert.Contains(t, call.Expressions["environment"].References, "local.environment")

	function := planned(t, plan, "module.pager_function.aws_lambda_function.this")
	assert.Equal(t, name+"-pager", function["function_name"])
	assert.Equal(t, "pager", function["handler"])
	assert.Equal(t, "provided.al2023", function["runtime"])
	assert.EqualValues(t, 30, function["timeout"])
	assert.Equal(t, "bootstrap.zip", function["filename"])
	assert.Equal(t, []any{"x86_64"}, function["architectures"])
	assert.Equal(t, map[string]any{"Team": "iot"}, function["tags"])

	// (b) Least privilege, the routing keys by ARN only.
	assertLeastPrivilege(t, plan, []string{pagerdutySecret, pagerdutyNorthSecret}, []string{pagerdutySecretKey})
	logs := pagerStatement(pagerPolicyStatements(t, plan), "OwnLogGroup")
	require.NotNil(t, logs)
	assert.Regexp(t, `^arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:/aws/lambda/`+name+`-pager:\*$`, stringsOf(logs["resources"])[0])

	// (d) No secret value anywhere.
	assertNoSecretValue(t, plan)

	table := planned(t, plan, "aws_dynamodb_table.pages")
	assert.Equal(t, name+"-pages", table["name"])
	assert.Equal(t, "PAY_PER_REQUEST", table["billing_mode"])
	assert.Equal(t, "key", table["hash_key"])
	ttl := table["ttl"].([]any)[0].(map[string]any)
	assert.Equal(t, "expiresAt", ttl["attribute_name"])
	assert.Equal(t, true, ttl["enabled"])
	assert.Equal(t, true, table["point_in_time_recovery"].([]any)[0].(map[string]any)["enabled"])

	queue := planned(t, plan, "aws_sqs_queue.pages")
	assert.Equal(t, name+"-pages", queue["name"])
	assert.EqualValues(t, 180, queue["visibility_timeout_seconds"], "six times the function's timeout")
	assert.EqualValues(t, 345600, queue["message_retention_seconds"])
	assert.Equal(t, true, queue["sqs_managed_sse_enabled"])
	deadLetters := planned(t, plan, "aws_sqs_queue.dead_letter")
	assert.Equal(t, name+"-pages-dlq", deadLetters["name"])
	assert.EqualValues(t, 1209600, deadLetters["message_retention_seconds"])
	assert.Equal(t, true, deadLetters["sqs_managed_sse_enabled"])

	rule := planned(t, plan, "aws_cloudwatch_event_rule.announcements")
	assert.Equal(t, "fleet", rule["event_bus_name"])
	var pattern map[string]any
	require.NoError(t, json.Unmarshal([]byte(rule["event_pattern"].(string)), &pattern))
	assert.Equal(t, normalizeJSON(t, map[string]any{
		"source":      []string{"acme.connectivity"},
		"detail-type": []string{"Device Connected", "Device Disconnected", "Fleet Connectivity Degraded", "Fleet Connectivity Restored"},
	}), pattern)
	assert.Equal(t, "fleet", planned(t, plan, "aws_cloudwatch_event_target.announcements")["event_bus_name"])

	pass := planned(t, plan, "aws_cloudwatch_event_rule.pass")
	assert.Equal(t, "rate(1 minute)", pass["schedule_expression"])
	assert.Equal(t, "default", pass["event_bus_name"], "schedules run on the default bus only")
	assert.JSONEq(t, `{"pagerPass": true}`, planned(t, plan, "aws_cloudwatch_event_target.pass")["input"].(string))
	assert.Equal(t, "events.amazonaws.com", planned(t, plan, "aws_lambda_permission.pass")["principal"])

	mapping := planned(t, plan, "aws_lambda_event_source_mapping.pages")
	assert.EqualValues(t, 10, mapping["batch_size"])
	assert.Equal(t, []any{"ReportBatchItemFailures"}, mapping["function_response_types"])
	assert.EqualValues(t, 2, mapping["scaling_config"].([]any)[0].(map[string]any)["maximum_concurrency"])

	alarm := planned(t, plan, "aws_cloudwatch_metric_alarm.dead_letters")
	assert.Equal(t, "ApproximateNumberOfMessagesVisible", alarm["metric_name"])
	assert.Equal(t, map[string]any{"QueueName": name + "-pages-dlq"}, alarm["dimensions"])
	assert.EqualValues(t, 0, alarm["threshold"])
	assert.Equal(t, "GreaterThanThreshold", alarm["comparison_operator"])
	assert.Equal(t, []any{"arn:aws:sns:us-east-1:123456789012:oncall"}, alarm["alarm_actions"])

	// Only the announcements rule may send to the queue.
	queuePolicy := change(t, plan, "data.aws_iam_policy_document.queue")["statement"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{"sqs:SendMessage"}, queuePolicy["actions"])
	principal := queuePolicy["principals"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{"events.amazonaws.com"}, principal["identifiers"])
	condition := queuePolicy["condition"].([]any)[0].(map[string]any)
	assert.Equal(t, "aws:SourceArn", condition["variable"])
}

// With the defaults: one secret, no routes, no KMS permission.
func TestPlanPagerdutyDefaults(t *testing.T) {
	t.Parallel()
	plan, _ := planPagerduty(t, map[string]any{})
	assertLeastPrivilege(t, plan, []string{pagerdutySecret}, nil)
	assertNoSecretValue(t, plan)
	assert.Empty(t, planned(t, plan, "aws_cloudwatch_metric_alarm.dead_letters")["alarm_actions"])
}

func TestPlanPagerdutyRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		vars    map[string]any
		message string
	}{
		"route with two matchers": {map[string]any{"routes": []map[string]any{{"thing_group": "a", "thing_type": "b"}}}, "Each route must set exactly one of thing_group, thing_type or attribute"},
		"route with no matcher":   {map[string]any{"routes": []map[string]any{{"severity": "info"}}}, "Each route must set exactly one of thing_group, thing_type or attribute"},
		"severity urgent":         {map[string]any{"severity": "urgent"}, "severity must be critical, error, warning or info"},
		"route severity urgent":   {map[string]any{"routes": []map[string]any{{"thing_group": "a", "severity": "urgent"}}}, "A route's severity must be critical, error, warning or info"},
		"events_url not http":     {map[string]any{"events_url": "ftp://x"}, "events_url must be an http:// or https:// URL"},
		"key not a secret ARN":    {map[string]any{"routing_key_secret_arn": "arn:aws:ssm:us-east-1:123456789012:parameter/pagerduty"}, "routing_key_secret_arn must be a Secrets Manager secret's ARN"},
		"a key, not its ARN":      {map[string]any{"routing_key_secret_arn": "u0123456789abcdef0123456789abcde"}, "routing_key_secret_arn must be a Secrets Manager secret's ARN"},
		"route key not an ARN":    {map[string]any{"routes": []map[string]any{{"thing_type": "a", "routing_key_secret_arn": "pagerduty/north"}}}, "A route's routing_key_secret_arn must be a Secrets Manager secret's ARN"},
		"name too long":           {map[string]any{"name": "a" + strings.Repeat("b", 38)}, "name must start with a letter and hold at most 38"},
		"rate above 1000":         {map[string]any{"rate_per_minute": 1001}, "rate_per_minute must be a whole number from 1 to 1000"},
		"no package":              {map[string]any{"lambda_package": map[string]any{"architecture": "arm64"}}, "lambda_package must name either a local zip"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			options := pagerdutyOptions(t, tc.vars)
			terraform.InitContext(t, t.Context(), options)
			_, err := terraform.PlanContextE(t, t.Context(), options)
			require.Error(t, err)
			// Terraform wraps a diagnostic's lines and frames them with "│".
			assert.Contains(t, strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "│", " ")), " "), tc.message)
		})
	}
}
