//go:build plan

package test

// modules/chat: an encrypted SNS topic, one EventBridge rule per kind of notification with
// an input transformer read from the module's files, a topic policy letting only those
// rules publish, and every setting that cannot work refused at plan. What the transformers
// produce is tested against the emulator in tools/test_chat_delivery.py.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chatNotification is one entry of modules/chat/notifications.json.
type chatNotification struct {
	DetailType  string            `json:"detail_type"`
	Description string            `json:"description"`
	Detail      map[string]any    `json:"detail"`
	InputPaths  map[string]string `json:"input_paths"`
}

var chatKeys = []string{"connected", "first-seen", "disconnected", "removed", "degraded", "restored"}

func chatOptions(t *testing.T, vars map[string]any) *terraform.Options {
	t.Helper()
	target(t)
	if _, ok := vars["name"]; !ok {
		vars["name"] = uniqueName()
	}
	if _, ok := vars["event_source"]; !ok {
		vars["event_source"] = "iot.device-connectivity"
	}
	return terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: filepath.Join(copyRepo(t), "modules", "chat"),
		Vars:         vars,
		NoColor:      true,
		PlanFilePath: "test.tfplan",
	})
}

func planChat(t *testing.T, vars map[string]any) *terraform.PlanStruct {
	t.Helper()
	options := chatOptions(t, vars)
	terraform.InitContext(t, t.Context(), options)
	terraform.PlanContext(t, t.Context(), options)
	return terraform.ShowWithStructContext(t, t.Context(), options)
}

func chatNotifications(t *testing.T) map[string]chatNotification {
	t.Helper()
	content, err := os.ReadFile(filepath.Join(repoRoot(t), "modules", "chat", "notifications.json"))
	require.NoError(t, err)
	var notifications map[string]chatNotification
	require.NoError(t, json.Unmarshal(content, &notifications))
	return notifications
}

func TestPlanChat(t *testing.T) {
	t.Parallel()
	name := uniqueName()
	plan := planChat(t, map[string]any{"name": name, "event_bus_name": "fleet", "event_source": "acme.connectivity", "tags": map[string]string{"Team": "iot"}})
	notifications := chatNotifications(t)
	require.ElementsMatch(t, chatKeys, mapKeys(notifications), "notifications.json holds the six notifications")

	// The topic is encrypted with a customer managed key the module creates: EventBridge
	// cannot publish to a topic under the AWS managed alias/aws/sns.
	topic := planned(t, plan, "aws_sns_topic.this")
	assert.Equal(t, name+"-chat", topic["name"])
	assert.Equal(t, map[string]any{"Team": "iot"}, topic["tags"])
	key := planned(t, plan, "aws_kms_key.topic[0]")
	assert.Equal(t, true, key["enable_key_rotation"])
	var keyPolicy map[string]any
	require.NoError(t, json.Unmarshal([]byte(key["policy"].(string)), &keyPolicy))
	events := jsonStatement(keyPolicy, "EventBridgePublishes")
	require.NotNil(t, events, "the key policy lets EventBridge use the key")
	assert.Equal(t, map[string]any{"Service": "events.amazonaws.com"}, events["Principal"])
	assert.ElementsMatch(t, []string{"kms:Decrypt", "kms:GenerateDataKey"}, sortedStrings(asList(events["Action"])))
	assert.Equal(t, "alias/"+name+"-chat", planned(t, plan, "aws_kms_alias.topic[0]")["name"])

	for key, notification := range notifications {
		t.Run(key, func(t *testing.T) {
			rule := planned(t, plan, "aws_cloudwatch_event_rule.this[\""+key+"\"]")
			assert.Equal(t, name+"-chat-"+key, rule["name"])
			assert.LessOrEqual(t, len(rule["name"].(string)), 64)
			assert.Equal(t, "fleet", rule["event_bus_name"])
			want := map[string]any{"source": []any{"acme.connectivity"}, "detail-type": []any{notification.DetailType}}
			if len(notification.Detail) > 0 {
				want["detail"] = notification.Detail
			}
			var pattern map[string]any
			require.NoError(t, json.Unmarshal([]byte(rule["event_pattern"].(string)), &pattern))
			assert.Equal(t, normalizeJSON(t, want), pattern)

			targetValues := planned(t, plan, "aws_cloudwatch_event_target.this[\""+key+"\"]")
			assert.Equal(t, "fleet", targetValues["event_bus_name"])
			transformer := targetValues["input_transformer"].([]any)[0].(map[string]any)
			template, err := os.ReadFile(filepath.Join(repoRoot(t), "modules", "chat", "templates", key+".tpl"))
			require.NoError(t, err)
			assert.Equal(t, string(template), transformer["input_template"], "the template is templates/%s.tpl as it is", key)
			assert.LessOrEqual(t, len(template), 8192, "EventBridge's InputTemplate limit")
			paths := map[string]string{}
			for name, path := range transformer["input_paths"].(map[string]any) {
				paths[name] = path.(string)
			}
			assert.Equal(t, notification.InputPaths, paths)
			assert.LessOrEqual(t, len(paths), 100, "EventBridge's InputPathsMap limit")
			// The template fixes the notification schema's constants and names every variable it uses.
			for _, fixed := range []string{`"version": "1.0"`, `"source": "custom"`, `"textType": "client-markdown"`, `"threadId": <`} {
				assert.Contains(t, string(template), fixed)
			}
			for _, placeholder := range placeholders(string(template)) {
				assert.Contains(t, paths, placeholder, "<%s> of templates/%s.tpl has no input path", placeholder, key)
			}
		})
	}

	// Only these rules may publish: the policy's source ARNs are known at apply, so the
	// plan shows the statement's fixed parts.
	topicPolicy := change(t, plan, "data.aws_iam_policy_document.topic")
	statement := topicPolicy["statement"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{"sns:Publish"}, statement["actions"])
	principal := statement["principals"].([]any)[0].(map[string]any)
	assert.Equal(t, "Service", principal["type"])
	assert.Equal(t, []any{"events.amazonaws.com"}, principal["identifiers"])
	condition := statement["condition"].([]any)[0].(map[string]any)
	assert.Equal(t, "ArnEquals", condition["test"])
	assert.Equal(t, "aws:SourceArn", condition["variable"])
	assert.Contains(t, plan.ResourceChangesMap, "aws_sns_topic_policy.this")
}

func TestPlanChatWithACallersKey(t *testing.T) {
	t.Parallel()
	plan := planChat(t, map[string]any{"kms_master_key_id": "alias/connectivity-chat"})
	assert.Equal(t, "alias/connectivity-chat", planned(t, plan, "aws_sns_topic.this")["kms_master_key_id"])
	for address := range plan.ResourceChangesMap {
		assert.NotContains(t, address, "aws_kms_key", "a key of the caller's: the module creates none")
	}
	rule := planned(t, plan, "aws_cloudwatch_event_rule.this[\"disconnected\"]")
	assert.Equal(t, "default", rule["event_bus_name"])
}

func TestPlanChatRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		vars    map[string]any
		message string
	}{
		"AWS managed key":    {map[string]any{"kms_master_key_id": "alias/aws/sns"}, "kms_master_key_id must be a customer managed key"},
		"empty key":          {map[string]any{"kms_master_key_id": ""}, "kms_master_key_id must be a customer managed key"},
		"name too long":      {map[string]any{"name": "a" + strings.Repeat("b", 46)}, "name must start with a letter and hold at most 46"},
		"name with a dot":    {map[string]any{"name": "fleet.prod"}, "name must start with a letter"},
		"AWS event source":   {map[string]any{"event_source": "aws.iot"}, "must not start with"},
		"event bus with a :": {map[string]any{"event_bus_name": "fleet:prod"}, "event_bus_name must be an event bus name"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			options := chatOptions(t, tc.vars)
			terraform.InitContext(t, t.Context(), options)
			_, err := terraform.PlanContextE(t, t.Context(), options)
			require.Error(t, err)
			assert.Contains(t, strings.Join(strings.Fields(err.Error()), " "), tc.message)
		})
	}
}

// jsonStatement is the statement of a policy in its JSON form with this Sid (nil: none).
func jsonStatement(document map[string]any, sid string) map[string]any {
	for _, statement := range asList(document["Statement"]) {
		if s, ok := statement.(map[string]any); ok && s["Sid"] == sid {
			return s
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	return keys
}

func asList(value any) []any {
	if list, ok := value.([]any); ok {
		return list
	}
	return []any{value}
}

// normalizeJSON is a value as it reads back from JSON (numbers as float64, slices as []any).
func normalizeJSON(t *testing.T, value any) map[string]any {
	t.Helper()
	content, err := json.Marshal(value)
	require.NoError(t, err)
	var normalized map[string]any
	require.NoError(t, json.Unmarshal(content, &normalized))
	return normalized
}

// placeholders are the <name>s of an input template.
func placeholders(template string) []string {
	var names []string
	for _, part := range strings.Split(template, "<")[1:] {
		if end := strings.Index(part, ">"); end > 0 {
			names = append(names, part[:end])
		}
	}
	return names
}
