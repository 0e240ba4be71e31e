//go:build e2e

package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cloudwatchtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompleteExample applies examples/complete, checks every resource through the
// AWS API, proves that plans stay empty (also from a fresh checkout reusing the state)
// and that a source change redeploys only the code, drives the deployed handler with
// lifecycle events, then destroys and checks nothing is left.
func TestCompleteExample(t *testing.T) {
	t.Parallel()
	where := target(t)
	cfg := awsConfig(t)
	name := uniqueName()
	root := copyRepo(t)
	options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: filepath.Join(root, "examples", "complete"),
		Vars: map[string]any{
			"name": name, "region": cfg.Region, "disconnect_grace_period_seconds": gracePeriodSeconds,
			// The soak's outage is a storm of the fleet.
			"storm_digest": map[string]any{"threshold": soakStormThreshold, "window_seconds": 300, "group_by": "fleet"},
		},
		EnvVars: terraformEnv(t),
		NoColor: true,
	})

	out := map[string]string{}
	defer assertNothingLeft(t, cfg, out)
	defer terraform.DestroyContext(t, t.Context(), options)
	terraform.InitAndApplyAndIdempotentContext(t, t.Context(), options)
	for key, value := range terraform.OutputAllContext(t, t.Context(), options) {
		if text, ok := value.(string); ok {
			out[key] = text
		}
	}

	t.Run("table", func(t *testing.T) { assertTable(t, cfg, out) })
	t.Run("log group", func(t *testing.T) { assertLogGroup(t, cfg, out) })
	t.Run("topic rule", func(t *testing.T) { assertTopicRule(t, cfg, out) })
	t.Run("function", func(t *testing.T) { assertFunction(t, cfg, out) })
	t.Run("iam policy", func(t *testing.T) { assertFunctionPolicy(t, cfg, out) })

	t.Run("fresh checkout with existing state plans no change", func(t *testing.T) {
		fresh := copyRepo(t)
		freshDir := filepath.Join(fresh, "examples", "complete")
		state, err := os.ReadFile(filepath.Join(options.TerraformDir, "terraform.tfstate"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(freshDir, "terraform.tfstate"), state, 0o600))
		freshOptions := *options
		freshOptions.TerraformDir = freshDir
		terraform.InitContext(t, t.Context(), &freshOptions)
		assert.Equal(t, 0, terraform.PlanExitCodeContext(t, t.Context(), &freshOptions), "a plan from a fresh checkout must be empty")
	})

	t.Run("a source change redeploys only the function code", func(t *testing.T) {
		lib := filepath.Join(root, "function", "src", "lib.rs")
		original, err := os.ReadFile(lib)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(lib, append(original, []byte("// changed by the test\n")...), 0o644))
		defer os.WriteFile(lib, original, 0o644)
		planOptions := *options
		planOptions.PlanFilePath = filepath.Join(t.TempDir(), "change.tfplan")
		terraform.PlanContext(t, t.Context(), &planOptions)
		plan := terraform.ShowWithStructContext(t, t.Context(), &planOptions)
		changed := map[string]string{}
		for address, resource := range plan.ResourceChangesMap {
			if !resource.Change.Actions.NoOp() && !resource.Change.Actions.Read() {
				changed[address] = strings.Join(actionNames(resource.Change.Actions), ",")
			}
		}
		assert.Equal(t, map[string]string{
			"module.device_connectivity.terraform_data.build[0]":                           "delete,create",
			"module.device_connectivity.module.presence_function.aws_lambda_function.this": "update",
			"module.device_connectivity.module.notifier[0].aws_lambda_function.this":       "update",
			"module.device_connectivity.module.counter[0].aws_lambda_function.this":        "update",
			"aws_lambda_function.view": "update",
		}, changed, "the three functions, and the example's consumer, are built from the crate")
	})

	t.Run("the deployed pipeline keeps status right and loses nothing", func(t *testing.T) {
		assertHandler(t, cfg, where, out)
	})

	t.Run("connectivity events: a flap announces nothing, an outage and the return do", func(t *testing.T) {
		assertAnnouncements(t, cfg, where, out)
	})

	t.Run("history: sessions and availability of a shuffled, duplicated history, in a browser too", func(t *testing.T) {
		assertHistory(t, cfg, where, out)
	})

	t.Run("announcements agree with the table after faults, with no operator action", func(t *testing.T) {
		assertAnnouncementsUnderFaults(t, cfg, where, name, out)
	})

	t.Run("metrics, alarms and the dashboard", func(t *testing.T) {
		alarms := terraform.OutputListContext(t, t.Context(), options, "alarm_names")
		assertObservability(t, cfg, name, alarms, out)
	})

	t.Run("ConnectedDevices equals the Connected items, removals included", func(t *testing.T) {
		assertConnectedDevices(t, cfg, name, out)
	})
}

// assertConnectedDevices compares the published count with the table (after the
// handler and announcement subtests changed it), removes a Connected item and waits for
// the count to follow, then recounts: an exact count needs no correction.
func assertConnectedDevices(t *testing.T, cfg aws.Config, deployment string, out map[string]string) {
	table := out["dynamodb_table_name"]
	connected := connectedItems(t, cfg, table)
	require.NotEmpty(t, connected, "the earlier subtests left Connected devices")
	waitForConnectedDevices(t, cfg, deployment, len(connected))

	_, err := dynamodb.NewFromConfig(cfg).DeleteItem(t.Context(), &dynamodb.DeleteItemInput{
		TableName: aws.String(table), Key: map[string]dynamodbtypes.AttributeValue{"ClientID": &dynamodbtypes.AttributeValueMemberS{Value: connected[0]}},
	})
	require.NoError(t, err)
	waitForConnectedDevices(t, cfg, deployment, len(connected)-1)

	// Only the table: the counts table and its shards come from the deployment's settings.
	command := exec.CommandContext(t.Context(), "cargo", "run", "--quiet", "--locked", "--bin", "connectivity", "--",
		"--table", table, "recount")
	command.Dir = repoRoot(t)
	output, err := command.Output()
	require.NoError(t, err, "connectivity recount: %s", output)
	var summary struct{ Corrections, Connected int }
	require.NoError(t, json.Unmarshal(output, &summary), "%s", output)
	assert.Equal(t, 0, summary.Corrections, "the stream kept the count exact")
	assert.Equal(t, len(connected)-1, summary.Connected)
}

// connectedItems lists the client IDs whose item says Connected (a strongly consistent scan).
func connectedItems(t *testing.T, cfg aws.Config, table string) []string {
	var clients []string
	paginator := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(cfg), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(t.Context())
		require.NoError(t, err)
		for _, item := range page.Items {
			status, _ := item["Status"].(*dynamodbtypes.AttributeValueMemberS)
			if status != nil && status.Value == "Connected" {
				clients = append(clients, item["ClientID"].(*dynamodbtypes.AttributeValueMemberS).Value)
			}
		}
	}
	return clients
}

// waitForConnectedDevices waits until every ConnectedDevices value of the newest
// minute is `want` (a minute that saw the change holds the old value too).
func waitForConnectedDevices(t *testing.T, cfg aws.Config, deployment string, want int) {
	client := cloudwatch.NewFromConfig(cfg)
	retry.DoWithRetry(t, fmt.Sprintf("ConnectedDevices = %d", want), 24, 10*time.Second, func() (string, error) {
		statistics, err := client.GetMetricStatistics(t.Context(), &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("IoTDeviceConnectivity"), MetricName: aws.String("ConnectedDevices"),
			Dimensions: []cloudwatchtypes.Dimension{{Name: aws.String("Deployment"), Value: aws.String(deployment)}},
			StartTime:  aws.Time(time.Now().Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)),
			Period: aws.Int32(60), Statistics: []cloudwatchtypes.Statistic{cloudwatchtypes.StatisticMinimum, cloudwatchtypes.StatisticMaximum},
		})
		if err != nil {
			return "", err
		}
		var newest *cloudwatchtypes.Datapoint
		for i := range statistics.Datapoints {
			if newest == nil || statistics.Datapoints[i].Timestamp.After(*newest.Timestamp) {
				newest = &statistics.Datapoints[i]
			}
		}
		if newest == nil {
			return "", errors.New("no ConnectedDevices datapoint yet")
		}
		if aws.ToFloat64(newest.Minimum) != float64(want) || aws.ToFloat64(newest.Maximum) != float64(want) {
			return "", fmt.Errorf("the newest minute has %v to %v", aws.ToFloat64(newest.Minimum), aws.ToFloat64(newest.Maximum))
		}
		return "exact", nil
	})
}

// assertObservability reads back what the pipeline published through EMF (after the
// handler and announcement subtests ran), and the alarms and dashboard as deployed.
func assertObservability(t *testing.T, cfg aws.Config, deployment string, alarmNames []string, out map[string]string) {
	client := cloudwatch.NewFromConfig(cfg)
	sum := func(metric string, dimensions map[string]string) (float64, error) {
		filter := []cloudwatchtypes.Dimension{{Name: aws.String("Deployment"), Value: aws.String(deployment)}}
		for name, value := range dimensions {
			filter = append(filter, cloudwatchtypes.Dimension{Name: aws.String(name), Value: aws.String(value)})
		}
		statistics, err := client.GetMetricStatistics(t.Context(), &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("IoTDeviceConnectivity"), MetricName: aws.String(metric), Dimensions: filter,
			StartTime: aws.Time(time.Now().Add(-3 * time.Hour)), EndTime: aws.Time(time.Now().Add(5 * time.Minute)),
			Period: aws.Int32(3600), Statistics: []cloudwatchtypes.Statistic{cloudwatchtypes.StatisticSum},
		})
		if err != nil {
			return 0, err
		}
		total := 0.0
		for _, point := range statistics.Datapoints {
			total += aws.ToFloat64(point.Sum)
		}
		return total, nil
	}
	// At least: the handler subtest's applied connects, its malformed event, the three
	// failed attempts of the outage, and the announcements of the events subtest.
	want := []struct {
		metric     string
		dimensions map[string]string
		atLeast    float64
	}{
		{"Events", map[string]string{"EventType": "connected", "Outcome": "applied"}, 3},
		{"Events", map[string]string{"EventType": "malformed", "Outcome": "skipped"}, 1},
		{"Events", map[string]string{"EventType": "disconnected", "Outcome": "failed"}, 3},
		{"Events", map[string]string{"EventType": "connected", "Outcome": "stale"}, 1},
		{"DynamoDbRoundTrips", nil, 3},
		{"Announcements", map[string]string{"DetailType": "Device Disconnected"}, 1},
		{"Announcements", map[string]string{"DetailType": "Device Connected"}, 3},
	}
	// CloudWatch extracts EMF within a minute or two on AWS; at once on the emulator.
	retry.DoWithRetry(t, "EMF metrics published", 20, 15*time.Second, func() (string, error) {
		for _, w := range want {
			got, err := sum(w.metric, w.dimensions)
			if err != nil {
				return "", err
			}
			if got < w.atLeast {
				return "", fmt.Errorf("%s %v: %v so far, want at least %v", w.metric, w.dimensions, got, w.atLeast)
			}
		}
		return "published", nil
	})

	described, err := client.DescribeAlarms(t.Context(), &cloudwatch.DescribeAlarmsInput{AlarmNames: alarmNames})
	require.NoError(t, err)
	assert.Len(t, described.MetricAlarms, 15, "every alarm of an instance with events, the status index and the count")
	for _, alarm := range described.MetricAlarms {
		assert.Equal(t, []string{out["alarms_topic_arn"]}, alarm.AlarmActions, aws.ToString(alarm.AlarmName))
	}
	dashboard, err := client.GetDashboard(t.Context(), &cloudwatch.GetDashboardInput{DashboardName: aws.String(out["dashboard_name"])})
	require.NoError(t, err)
	assert.Contains(t, aws.ToString(dashboard.DashboardBody), "IoTDeviceConnectivity")
}

func actionNames[T ~string](actions []T) []string {
	names := make([]string, len(actions))
	for i, action := range actions {
		names[i] = string(action)
	}
	return names
}

func assertTable(t *testing.T, cfg aws.Config, out map[string]string) {
	client := dynamodb.NewFromConfig(cfg)
	table, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(out["dynamodb_table_name"])})
	require.NoError(t, err)
	require.Len(t, table.Table.KeySchema, 1)
	assert.Equal(t, "ClientID", *table.Table.KeySchema[0].AttributeName)
	assert.Equal(t, dynamodbtypes.KeyTypeHash, table.Table.KeySchema[0].KeyType)
	assert.Equal(t, dynamodbtypes.BillingModePayPerRequest, table.Table.BillingModeSummary.BillingMode)
	// Encrypted with DynamoDB's AWS owned key: DescribeTable then reports no SSE description.
	assert.Nil(t, table.Table.SSEDescription)
	// The status index, and the sparse index of owed announcements (events are on).
	indexes := map[string]dynamodbtypes.ProjectionType{}
	for _, index := range table.Table.GlobalSecondaryIndexes {
		indexes[aws.ToString(index.IndexName)] = index.Projection.ProjectionType
	}
	assert.Equal(t, map[string]dynamodbtypes.ProjectionType{
		out["dynamodb_status_index_name"]: dynamodbtypes.ProjectionTypeAll,
		"ByAnnouncementOwed":              dynamodbtypes.ProjectionTypeKeysOnly,
	}, indexes)

	backups, err := client.DescribeContinuousBackups(t.Context(), &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(out["dynamodb_table_name"])})
	require.NoError(t, err)
	assert.Equal(t, dynamodbtypes.PointInTimeRecoveryStatusEnabled,
		backups.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus)

	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(out["dynamodb_table_name"])})
	require.NoError(t, err)
	assert.Equal(t, "ExpiresAt", aws.ToString(ttl.TimeToLiveDescription.AttributeName))
}

func assertLogGroup(t *testing.T, cfg aws.Config, out map[string]string) {
	groups, err := cloudwatchlogs.NewFromConfig(cfg).DescribeLogGroups(t.Context(), &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupNamePrefix: aws.String(out["cloudwatch_log_group_name"]),
	})
	require.NoError(t, err)
	retention := map[string]int32{}
	for _, group := range groups.LogGroups {
		retention[aws.ToString(group.LogGroupName)] = aws.ToInt32(group.RetentionInDays)
	}
	// The notifier's and the counter's groups share the prefix.
	assert.Equal(t, map[string]int32{
		"/aws/lambda/" + out["lambda_function_name"]:   30,
		"/aws/lambda/" + out["notifier_function_name"]: 30,
		"/aws/lambda/" + out["counter_function_name"]:  30,
	}, retention)
}

func assertTopicRule(t *testing.T, cfg aws.Config, out map[string]string) {
	rule, err := iot.NewFromConfig(cfg).GetTopicRule(t.Context(), &iot.GetTopicRuleInput{RuleName: aws.String(out["iot_topic_rule_name"])})
	require.NoError(t, err)
	assert.Equal(t, "SELECT * FROM '$aws/events/presence/#'", aws.ToString(rule.Rule.Sql))
	assert.Equal(t, "2016-03-23", aws.ToString(rule.Rule.AwsIotSqlVersion))
	require.Len(t, rule.Rule.Actions, 1)
	require.NotNil(t, rule.Rule.Actions[0].Lambda)
	assert.Equal(t, out["lambda_function_arn"], aws.ToString(rule.Rule.Actions[0].Lambda.FunctionArn))
	require.NotNil(t, rule.Rule.ErrorAction)
	require.NotNil(t, rule.Rule.ErrorAction.Sqs)
	assert.Equal(t, out["dead_letter_queue_url"], aws.ToString(rule.Rule.ErrorAction.Sqs.QueueUrl))
}

func assertFunction(t *testing.T, cfg aws.Config, out map[string]string) {
	client := lambda.NewFromConfig(cfg)
	function, err := client.GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(out["lambda_function_name"])})
	require.NoError(t, err)
	assert.Equal(t, "provided.al2023", string(function.Runtime))
	assert.Equal(t, "presence", aws.ToString(function.Handler))
	assert.Equal(t, []string{"x86_64"}, actionNames(function.Architectures))
	assert.Equal(t, out["iam_role_arn"], aws.ToString(function.Role))
	assert.Equal(t, map[string]string{
		"TABLE_NAME":                 out["dynamodb_table_name"],
		"IGNORED_CLIENT_ID_PREFIXES": "iotconsole",
		"ITEM_TTL_SECONDS":           "7776000",
		"HISTORY_TABLE_NAME":         out["history_table_name"],
		"HISTORY_RETENTION_SECONDS":  "7776000",
		"STATUS_INDEX_SHARDS":        "64",
		"ANNOUNCEMENTS_ENABLED":      "true",
		"METRICS_NAMESPACE":          "IoTDeviceConnectivity",
		"METRICS_DEPLOYMENT":         strings.TrimSuffix(out["dynamodb_table_name"], "-DeviceConnectivity"),
	}, function.Environment.Variables)
	require.NotNil(t, function.LoggingConfig)
	assert.Equal(t, "JSON", string(function.LoggingConfig.LogFormat))
	assert.Equal(t, out["cloudwatch_log_group_name"], aws.ToString(function.LoggingConfig.LogGroup))

	notifier, err := client.GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(out["notifier_function_name"])})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"TABLE_NAME":           out["dynamodb_table_name"],
		"EVENT_BUS_NAME":       "default",
		"EVENT_SOURCE":         "iot.device-connectivity",
		"GRACE_PERIOD_SECONDS": fmt.Sprint(gracePeriodSeconds),
		"GRACE_QUEUE_URL":      out["grace_period_queue_url"],
		"MAX_CONCURRENT_PUTS":  "8",
		"ITEM_TTL_SECONDS":     "7776000",
		"METRICS_NAMESPACE":    "IoTDeviceConnectivity",
		"METRICS_DEPLOYMENT":   strings.TrimSuffix(out["dynamodb_table_name"], "-DeviceConnectivity"),
		// The example announces storms of the fleet.
		"FLEET_TABLE_NAME": out["dynamodb_table_name"] + "-fleet",
		"STORM_DIGEST":     fmt.Sprintf(`{"group_by":"fleet","threshold":%d,"window_seconds":300}`, soakStormThreshold),
	}, notifier.Environment.Variables)

	invoke, err := client.GetFunctionEventInvokeConfig(t.Context(), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(out["lambda_function_name"])})
	require.NoError(t, err)
	assert.Equal(t, out["dead_letter_queue_arn"], aws.ToString(invoke.DestinationConfig.OnFailure.Destination))

	policy, err := client.GetPolicy(t.Context(), &lambda.GetPolicyInput{FunctionName: aws.String(out["lambda_function_name"])})
	require.NoError(t, err)
	var document struct {
		Statement []struct {
			Principal map[string]string
			Action    string
			Condition map[string]map[string]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(policy.Policy)), &document))
	require.Len(t, document.Statement, 1)
	statement := document.Statement[0]
	assert.Equal(t, "iot.amazonaws.com", statement.Principal["Service"])
	assert.Equal(t, "lambda:InvokeFunction", statement.Action)
	assert.Equal(t, out["iot_topic_rule_arn"], statement.Condition["ArnLike"]["AWS:SourceArn"])
	assert.NotEmpty(t, statement.Condition["StringEquals"]["AWS:SourceAccount"])
}

// Only the actions the handler uses, only on the module's own resources.
func assertFunctionPolicy(t *testing.T, cfg aws.Config, out map[string]string) {
	policy, err := iam.NewFromConfig(cfg).GetRolePolicy(t.Context(), &iam.GetRolePolicyInput{
		RoleName: aws.String(out["iam_role_name"]), PolicyName: aws.String("device-connectivity"),
	})
	require.NoError(t, err)
	text, err := url.QueryUnescape(aws.ToString(policy.PolicyDocument))
	require.NoError(t, err)
	var document struct {
		Statement []struct {
			Sid      string
			Effect   string
			Action   any
			Resource any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(text), &document))
	granted := map[string][]string{}
	for _, statement := range document.Statement {
		assert.Equal(t, "Allow", statement.Effect)
		for _, action := range stringList(statement.Action) {
			assert.NotContains(t, action, "*")
			granted[action] = stringList(statement.Resource)
		}
	}
	assert.Equal(t, map[string][]string{
		"dynamodb:GetItem":     {out["dynamodb_table_arn"]},
		"dynamodb:PutItem":     {out["history_table_arn"]},
		"dynamodb:UpdateItem":  {out["dynamodb_table_arn"]},
		"logs:CreateLogStream": {logGroupArn(out) + ":*"},
		"logs:PutLogEvents":    {logGroupArn(out) + ":*"},
		"sqs:SendMessage":      {out["dead_letter_queue_arn"]},
	}, granted)
}

func logGroupArn(out map[string]string) string {
	// arn:aws:dynamodb:REGION:ACCOUNT:table/NAME -> arn:aws:logs:REGION:ACCOUNT:log-group:NAME
	parts := strings.SplitN(out["dynamodb_table_arn"], ":", 6)
	return strings.Join([]string{parts[0], parts[1], "logs", parts[3], parts[4], "log-group:" + out["cloudwatch_log_group_name"]}, ":")
}

// stringList reads an IAM field that is a string or a list of strings.
func stringList(field any) []string {
	switch value := field.(type) {
	case string:
		return []string{value}
	case []any:
		result := make([]string, 0, len(value))
		for _, item := range value {
			result = append(result, item.(string))
		}
		return result
	}
	return nil
}

// assertHandler sends lifecycle events, out of order and duplicated, through the
// deployed pipeline (see deliver), then checks the items: a client ID with slashes is
// tracked, ignored clients are not, and a write the function may not make ends in the
// dead-letter queue through the on-failure destination, from where `replay` re-drives it.
func assertHandler(t *testing.T, cfg aws.Config, where string, out map[string]string) {
	const hour = 3_600_000
	t0 := time.Now().Add(-6 * time.Hour).UnixMilli()
	event := func(kind, client string, version, offset int64, extra string) string {
		return `{"eventType":"` + kind + `","clientId":"` + client + `","versionNumber":` +
			jsonNumber(version) + `,"timestamp":` + jsonNumber(t0+offset) + extra + `}`
	}
	name := out["lambda_function_name"]
	reset, daily, slashed, ignored := name+"-reset", name+"-daily", "site-3/"+name+"/gw-1", "iotconsole-"+name
	table := out["dynamodb_table_name"]
	deliver(t, cfg, where, name, []string{
		// Scenario 7 of the original sample, delivered as (d10, d0, c0).
		event("disconnected", reset, 10, 0, ""),
		event("disconnected", reset, 0, hour+1, `,"disconnectReason":"CLIENT_INITIATED_DISCONNECT"`),
		event("connected", reset, 0, hour, `,"ipAddress":"192.0.2.7"`),
		// A device online every few hours, each session at version 0; a late duplicate.
		event("connected", daily, 0, 0, ""),
		event("disconnected", daily, 0, 1, ""),
		event("connected", daily, 0, 3*hour, `,"thingName":"daily-thing"`),
		event("connected", daily, 0, 0, ""),
		event("connected", slashed, 2, 0, ""),
		event("connected", ignored, 0, 0, ""),
		`{"clientId":"` + daily + `","eventType":"rebooted"}`,
	})

	retry.DoWithRetry(t, "items are written", 30, 10*time.Second, func() (string, error) {
		if attributeText(getItem(t, cfg, table, daily), "ConnectTime") != jsonNumber(t0+3*hour) ||
			attributeText(getItem(t, cfg, table, reset), "DisconnectTime") != jsonNumber(t0+hour+1) ||
			attributeText(getItem(t, cfg, table, slashed), "Status") == "" {
			return "", errors.New("not yet")
		}
		return "written", nil
	})
	resetItem := getItem(t, cfg, table, reset)
	assert.Equal(t, "Disconnected", attributeText(resetItem, "Status"))
	assert.Equal(t, "0", attributeText(resetItem, "ConnectVersionNum"))
	assert.Equal(t, jsonNumber(t0+hour), attributeText(resetItem, "ConnectTime"))
	assert.Equal(t, "CLIENT_INITIATED_DISCONNECT", attributeText(resetItem, "DisconnectReason"))
	assert.Equal(t, "192.0.2.7", attributeText(resetItem, "IpAddress"))
	awaitExpiry(t, cfg, table, reset, "a disconnected client may expire (item TTL is on) once its announcement is settled")

	dailyItem := getItem(t, cfg, table, daily)
	assert.Equal(t, "Connected", attributeText(dailyItem, "Status"))
	assert.Equal(t, "daily-thing", attributeText(dailyItem, "ThingName"))
	assert.Empty(t, attributeText(dailyItem, "ExpiresAt"), "a connected client never expires")

	assert.Equal(t, "Connected", attributeText(getItem(t, cfg, table, slashed), "Status"), "client IDs with slashes are tracked")
	assert.Empty(t, getItem(t, cfg, table, ignored), "ignored clients are never written")
	assert.Empty(t, queueMessages(t, cfg, out["dead_letter_queue_url"], 10), "nothing failed so far")

	// An outage of the function's write permission: the event is retried, then sent
	// to the dead-letter queue by Lambda's on-failure destination.
	iamClient := iam.NewFromConfig(cfg)
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"dynamodb:UpdateItem","Resource":"*"}]}`
	_, err := iamClient.PutRolePolicy(t.Context(), &iam.PutRolePolicyInput{
		RoleName: aws.String(out["iam_role_name"]), PolicyName: aws.String("test-outage"), PolicyDocument: aws.String(deny),
	})
	require.NoError(t, err)
	if where == targetAWS {
		time.Sleep(15 * time.Second) // IAM changes take seconds to reach Lambda's credentials
	}
	lost := event("disconnected", daily, 0, 4*hour, `,"disconnectReason":"SERVER_INITIATED_DISCONNECT"`)
	deliver(t, cfg, where, name, []string{lost})
	var records []map[string]any
	retry.DoWithRetry(t, "the event reaches the dead-letter queue", 60, 10*time.Second, func() (string, error) {
		if records = queueMessages(t, cfg, out["dead_letter_queue_url"], 10); len(records) == 0 {
			return "", errors.New("empty")
		}
		return "arrived", nil
	})
	require.Len(t, records, 1)
	context := records[0]["requestContext"].(map[string]any)
	assert.Equal(t, "RetriesExhausted", context["condition"])
	assert.EqualValues(t, 3, context["approximateInvokeCount"], "the first attempt and two retries")
	assert.Equal(t, "StoreError.DynamoDb", records[0]["responsePayload"].(map[string]any)["errorType"])
	assert.Equal(t, "Connected", attributeText(getItem(t, cfg, table, daily), "Status"))

	_, err = iamClient.DeleteRolePolicy(t.Context(), &iam.DeleteRolePolicyInput{
		RoleName: aws.String(out["iam_role_name"]), PolicyName: aws.String("test-outage"),
	})
	require.NoError(t, err)
	redrive(t, cfg, out["dead_letter_queue_url"], table)
	redriven := getItem(t, cfg, table, daily)
	assert.Equal(t, "Disconnected", attributeText(redriven, "Status"))
	assert.Equal(t, "SERVER_INITIATED_DISCONNECT", attributeText(redriven, "DisconnectReason"))
	// replay was given only the table: the deployment's settings come from its tags, so
	// the item is in the status index and expires as the function would have written it.
	assert.Regexp(t, `^Disconnected#\d+$`, attributeText(redriven, "StatusShard"))
	awaitExpiry(t, cfg, table, daily, "the re-driven disconnect expires once settled")
	assert.Empty(t, queueMessages(t, cfg, out["dead_letter_queue_url"], 10))
}

// redrive is the documented re-drive (docs/operations.md): the events of the dead-letter queue through
// `replay` (the handler's code path), deleting each message once it was applied.
func redrive(t *testing.T, cfg aws.Config, queueURL, table string) {
	t.Helper()
	client := sqs.NewFromConfig(cfg)
	// Long polling: the message may still be invisible from the test's earlier look.
	received, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 10,
	})
	require.NoError(t, err)
	require.NotEmpty(t, received.Messages, "the dead-letter queue holds the failed event")
	var lines []string
	for _, message := range received.Messages {
		var record struct {
			RequestPayload json.RawMessage `json:"requestPayload"`
		}
		require.NoError(t, json.Unmarshal([]byte(aws.ToString(message.Body)), &record))
		lines = append(lines, string(record.RequestPayload))
	}
	command := exec.CommandContext(t.Context(), "cargo", "run", "--quiet", "--locked", "--bin", "replay", "--", "--table", table)
	command.Dir = repoRoot(t)
	command.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	output, err := command.CombinedOutput()
	require.NoError(t, err, "replay: %s", output)
	assert.Contains(t, string(output), `"applied":1`)
	for _, message := range received.Messages {
		_, err := client.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: message.ReceiptHandle})
		require.NoError(t, err)
	}
}

const gracePeriodSeconds = 3

// soakStormThreshold: the complete example's storm threshold in the tests.
const soakStormThreshold = 10

// assertAnnouncements drives three devices through the pipeline and reads what the
// example's EventBridge rule delivered to its queue: a flap within the grace period
// announces nothing but the first sighting, an outage longer than the grace period is
// announced, and so is the return after it, with how long the device was offline.
func assertAnnouncements(t *testing.T, cfg aws.Config, where string, out map[string]string) {
	name := out["lambda_function_name"]
	flapper, leaver, returner := name+"-flapper", name+"-leaver", name+"-returner"
	now := time.Now().UnixMilli()
	event := func(kind, client string, version, offset int64) string {
		return fmt.Sprintf(`{"eventType":%q,"clientId":%q,"versionNumber":%d,"timestamp":%d}`, kind, client, version, now+offset)
	}
	received := map[string][]map[string]any{}
	await := func(what string, want map[string]int) {
		retry.DoWithRetry(t, what, 60, 5*time.Second, func() (string, error) {
			for _, message := range takeMessages(t, cfg, out["events_queue_url"]) {
				detail := message["detail"].(map[string]any)
				assert.Equal(t, out["event_source"], message["source"])
				received[detail["clientId"].(string)] = append(received[detail["clientId"].(string)], message)
			}
			for client, count := range want {
				if len(received[client]) < count {
					return "", fmt.Errorf("%s: %d of %d announcements so far", client, len(received[client]), count)
				}
			}
			return "arrived", nil
		})
	}

	deliver(t, cfg, where, name, []string{event("connected", flapper, 0, 0), event("connected", leaver, 0, 0), event("connected", returner, 0, 0)})
	await("first sightings", map[string]int{flapper: 1, leaver: 1, returner: 1})
	deliver(t, cfg, where, name, []string{event("disconnected", flapper, 0, 1000), event("connected", flapper, 1, 2000)})
	deliver(t, cfg, where, name, []string{event("disconnected", leaver, 0, 1000), event("disconnected", returner, 0, 1000)})
	await("outages", map[string]int{leaver: 2, returner: 2})
	deliver(t, cfg, where, name, []string{event("connected", returner, 1, 60_000)})
	await("the return", map[string]int{returner: 3})
	if where == targetAWS {
		time.Sleep(2 * gracePeriodSeconds * time.Second) // nothing more may arrive
	}
	await("nothing more", map[string]int{})

	types := func(client string) []string {
		var kinds []string
		for _, message := range received[client] {
			kinds = append(kinds, message["detail-type"].(string))
		}
		return kinds
	}
	assert.Equal(t, []string{"Device Connected"}, types(flapper), "a flap within the grace period is not announced")
	assert.Equal(t, []string{"Device Connected", "Device Disconnected"}, types(leaver))
	assert.Equal(t, []string{"Device Connected", "Device Disconnected", "Device Connected"}, types(returner))

	gone := received[leaver][1]["detail"].(map[string]any)
	assert.Equal(t, "Disconnected", gone["status"])
	assert.Equal(t, "1", gone["version"])
	assert.EqualValues(t, now+1000, gone["disconnect"].(map[string]any)["timestamp"])
	back := received[returner][2]["detail"].(map[string]any)
	assert.EqualValues(t, 59_000, back["offlineDurationMs"])
	// This subtest's devices: earlier subtests' announcements reach the same queue.
	ids := map[any]bool{}
	for _, client := range []string{flapper, leaver, returner} {
		for _, message := range received[client] {
			id := message["detail"].(map[string]any)["eventId"]
			assert.False(t, ids[id], "eventId %v announced twice without a failure", id)
			ids[id] = true
		}
		assertSequenceRises(t, client, received[client])
	}

	// A device whose item is deleted while announced Connected is announced Disconnected,
	// saying why, after everything its item said.
	_, err := dynamodb.NewFromConfig(cfg).DeleteItem(t.Context(), &dynamodb.DeleteItemInput{
		TableName: aws.String(out["dynamodb_table_name"]),
		Key:       map[string]dynamodbtypes.AttributeValue{"ClientID": &dynamodbtypes.AttributeValueMemberS{Value: returner}},
	})
	require.NoError(t, err)
	await("the deleted device's farewell", map[string]int{returner: 4})
	farewell := received[returner][3]
	assert.Equal(t, "Device Disconnected", farewell["detail-type"])
	assert.Equal(t, "ITEM_DELETED", farewell["detail"].(map[string]any)["reason"])
	assertSequenceRises(t, returner, received[returner])
}

// assertSequenceRises: announcements received in the order they were put (no reordering
// fault here) carry ever larger sequences.
func assertSequenceRises(t *testing.T, client string, messages []map[string]any) {
	t.Helper()
	previous := 0.0
	for _, message := range messages {
		sequence, ok := message["detail"].(map[string]any)["sequence"].(float64)
		if assert.True(t, ok, "%s: an announcement without a sequence: %v", client, message) {
			assert.Greater(t, sequence, previous, "%s: sequences rise with every announcement", client)
			previous = sequence
		}
	}
}

// takeMessages receives and deletes what a queue holds now.
func takeMessages(t *testing.T, cfg aws.Config, queueURL string) []map[string]any {
	t.Helper()
	var bodies []map[string]any
	for _, message := range takeSentMessages(t, cfg, queueURL) {
		bodies = append(bodies, message.body)
	}
	return bodies
}

// sentMessage is a message's JSON body and when SQS received it (SentTimestamp): when an
// EventBridge target delivered it, whenever the test reads it.
type sentMessage struct {
	body map[string]any
	sent time.Time
}

// takeSentMessages receives and deletes every message the queue holds now: announcements
// (an events queue), each validated against its schema in schemas/.
func takeSentMessages(t *testing.T, cfg aws.Config, queueURL string) []sentMessage {
	t.Helper()
	client := sqs.NewFromConfig(cfg)
	var messages []sentMessage
	for {
		received, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
		})
		require.NoError(t, err)
		if len(received.Messages) == 0 {
			return messages
		}
		for _, message := range received.Messages {
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(message.Body)), &body))
			validateAnnouncement(t, body)
			sentMs, err := strconv.ParseInt(message.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64)
			require.NoError(t, err, "SentTimestamp of a message")
			messages = append(messages, sentMessage{body: body, sent: time.UnixMilli(sentMs)})
			_, err = client.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: message.ReceiptHandle})
			require.NoError(t, err)
		}
	}
}

func jsonNumber(n int64) string {
	data, _ := json.Marshal(n)
	return string(data)
}

// assertNothingLeft runs after terraform destroy: every resource the module created is
// gone (retried, as deletions are eventually consistent on AWS).
func assertNothingLeft(t *testing.T, cfg aws.Config, out map[string]string) {
	if len(out) == 0 {
		return // the apply failed before any output: nothing to look up by name
	}
	ctx := t.Context()
	checks := map[string]func() error{
		"table": func() error {
			_, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(out["dynamodb_table_name"])})
			return err
		},
		"function": func() error {
			_, err := lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(out["lambda_function_name"])})
			return err
		},
		"notifier": func() error {
			_, err := lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(out["notifier_function_name"])})
			return err
		},
		"counter": func() error {
			_, err := lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(out["counter_function_name"])})
			return err
		},
		"counts table": func() error {
			_, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(out["counts_table_name"])})
			return err
		},
		"grace-period queue": func() error {
			_, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(out["grace_period_queue_url"])})
			return err
		},
		"topic rule": func() error {
			_, err := iot.NewFromConfig(cfg).GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String(out["iot_topic_rule_name"])})
			return err
		},
		"function role": func() error {
			_, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(out["iam_role_name"])})
			return err
		},
		"queue": func() error {
			_, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(out["dead_letter_queue_url"])})
			return err
		},
		"log group": func() error {
			groups, err := cloudwatchlogs.NewFromConfig(cfg).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{
				LogGroupNamePrefix: aws.String(out["cloudwatch_log_group_name"]),
			})
			if err == nil && len(groups.LogGroups) == 0 {
				return errNoLogGroup
			}
			return err
		},
	}
	for what, lookup := range checks {
		retry.DoWithRetry(t, what+" is gone", 12, 5*time.Second, func() (string, error) {
			err := lookup()
			if isNotFound(err) {
				return "gone", nil
			}
			return "", fmt.Errorf("still there, or the lookup failed: %v", err)
		})
	}
}

var errNoLogGroup = errors.New("no such log group")

// isNotFound says whether a lookup failed because the resource does not exist.
func isNotFound(err error) bool {
	if errors.Is(err, errNoLogGroup) {
		return true
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "ResourceNotFoundException", "NoSuchEntity", "QueueDoesNotExist",
		"AWS.SimpleQueueService.NonExistentQueue",
		// IoT answers GetTopicRule for a missing rule with UnauthorizedException.
		"UnauthorizedException":
		return true
	}
	return false
}

// awaitExpiry waits for the client's item to get its ExpiresAt: with connectivity events
// on, the notifier sets it when it settles the item (never while an announcement is owed).
func awaitExpiry(t *testing.T, cfg aws.Config, table, client, why string) {
	t.Helper()
	retry.DoWithRetry(t, why, 60, time.Second, func() (string, error) {
		if attributeText(getItem(t, cfg, table, client), "ExpiresAt") == "" {
			return "", errors.New("no ExpiresAt yet")
		}
		return "expires", nil
	})
}
