//go:build e2e

package test

// examples/pagerduty against the PagerDuty contract receiver (tools/pagerduty_receiver.py):
// 60 devices of one site and 5 single devices drop and come back while the receiver
// answers some posts 429 and 500 and EventBridge delivers the pager's announcements out of
// order, some twice. Paged: one incident for the site's storm and one per single device,
// each resolved after the return; no resolve dropped for want of its trigger; never more
// than rate_per_minute events in a minute.
//
// On demand (PAGERDUTY_E2E=1 scripts/test.sh), as the routing e2e: every deployment's
// topic rule hears every test's lifecycle events, and this test's 65 devices, published
// while TestCompleteExample denies its function a write to fill its dead-letter queue
// with exactly one event, land in that queue too. The test command keeps the pager's
// guarantees through function/tests/pager_emulator.rs (a real Pager, the emulator and the
// receiver) and the property test.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	pagerSiteDevices   = 60
	pagerSingleDevices = 5
	pagerRate          = 100
)

// receiverState is GET /_receiver/state (tools/PAGERDUTY_RECEIVER.md).
type receiverState struct {
	Alerts []struct {
		DedupKey string `json:"dedup_key"`
		Status   string `json:"status"`
		Events   []struct {
			EventAction string         `json:"event_action"`
			Body        map[string]any `json:"body"`
		} `json:"events"`
	} `json:"alerts"`
	Dropped []map[string]any `json:"dropped"`
	Refused []struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
	} `json:"refused"`
	Accepted     int            `json:"accepted"`
	MaxPerMinute map[string]int `json:"max_per_minute"`
}

// startReceiver runs the contract receiver on a free loopback port until the test ends.
func startReceiver(t *testing.T, ratePerMinute int) string {
	t.Helper()
	command := exec.Command(pythonPath(t), filepath.Join(repoRoot(t), "tools", "pagerduty_receiver.py"),
		"--port", "0", "--seed", "7", "--quiet", "--rate-per-minute", fmt.Sprint(ratePerMinute))
	stdout, err := command.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, command.Start())
	t.Cleanup(func() { _ = command.Process.Kill(); _ = command.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	url := strings.TrimSpace(strings.TrimPrefix(line, "pagerduty receiver listening on "))
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), "receiver said %q", line)
	return url
}

// pythonPath is the interpreter the test command set up (its virtualenv first).
func pythonPath(t *testing.T) string {
	t.Helper()
	for _, candidate := range []string{filepath.Join(repoRoot(t), ".tools", "venv", "bin", "python"), "python3", "python"} {
		if path, err := exec.LookPath(candidate); err == nil {
			return path
		}
	}
	t.Fatal("no python for the PagerDuty receiver")
	return ""
}

func receiverCall(t *testing.T, method, url string, body any) receiverState {
	t.Helper()
	var payload []byte
	if body != nil {
		var err error
		payload, err = json.Marshal(body)
		require.NoError(t, err)
	}
	request, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(payload))
	require.NoError(t, err)
	response, err := http.DefaultClient.Do(request)
	require.NoError(t, err)
	defer response.Body.Close()
	require.Equal(t, http.StatusOK, response.StatusCode, "%s %s", method, url)
	var state receiverState
	if strings.HasSuffix(url, "/state") {
		require.NoError(t, json.NewDecoder(response.Body).Decode(&state))
	}
	return state
}

// awaitReceiver polls the receiver's state until done holds (or fails the test).
func awaitReceiver(t *testing.T, url, what string, timeout time.Duration, done func(receiverState) bool) receiverState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		state := receiverCall(t, http.MethodGet, url+"/_receiver/state", nil)
		if done(state) {
			return state
		}
		if time.Now().After(deadline) {
			summary, _ := json.MarshalIndent(state, "", " ")
			t.Fatalf("%s: not within %s; the receiver holds %s", what, timeout, summary)
		}
		time.Sleep(2 * time.Second)
	}
}

// registerGroup creates n things <group>-NNN, cameras, in thing group <group>.
func registerGroup(t *testing.T, cfg aws.Config, group string, n int) []string {
	t.Helper()
	client := iot.NewFromConfig(cfg)
	_, err := client.CreateThingType(t.Context(), &iot.CreateThingTypeInput{ThingTypeName: aws.String("camera")})
	if err != nil {
		require.ErrorContains(t, err, "ResourceAlreadyExists", "thing type camera")
	}
	_, err = client.CreateThingGroup(t.Context(), &iot.CreateThingGroupInput{ThingGroupName: aws.String(group)})
	require.NoError(t, err)
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		names[i] = fmt.Sprintf("%s-%03d", group, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.CreateThing(t.Context(), &iot.CreateThingInput{
				ThingName: aws.String(names[i]), ThingTypeName: aws.String("camera"),
				AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"site": group}},
			})
			if err == nil {
				_, err = client.AddThingToThingGroup(t.Context(), &iot.AddThingToThingGroupInput{
					ThingGroupName: aws.String(group), ThingName: aws.String(names[i]),
				})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, name := range names {
			_, _ = client.DeleteThing(t.Context(), &iot.DeleteThingInput{ThingName: aws.String(name)})
		}
		_, _ = client.DeleteThingGroup(t.Context(), &iot.DeleteThingGroupInput{ThingGroupName: aws.String(group)})
	})
	return names
}

func TestPagerDutyExample(t *testing.T) {
	if os.Getenv("PAGERDUTY_E2E") == "" {
		t.Skip("on demand: PAGERDUTY_E2E=1 (see the comment above)")
	}
	t.Parallel()
	where := target(t)
	if where != targetEmulator {
		t.Skip("the PagerDuty contract receiver listens on this machine's loopback, which Lambda in AWS cannot reach")
	}
	cfg := awsConfig(t)
	name := uniqueName()
	receiver := startReceiver(t, 120)

	// The routing key lives in Secrets Manager only.
	secrets := secretsmanager.NewFromConfig(cfg)
	secret, err := secrets.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name + "-pagerduty"), SecretString: aws.String(`{"routing_key": "R0UT1NGKEY0123456789abcdefABCDEF"}`),
	})
	require.NoError(t, err)
	defer secrets.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: secret.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})

	site := registerGroup(t, cfg, name+"-site", pagerSiteDevices)
	singles := registerGroup(t, cfg, name+"-solo", pagerSingleDevices)

	options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: filepath.Join(copyRepo(t), "examples", "pagerduty"),
		Vars: map[string]any{
			"name": name, "region": cfg.Region,
			"routing_key_secret_arn": aws.ToString(secret.ARN),
			"events_url":             receiver + "/v2/enqueue",
			"rate_per_minute":        pagerRate,
			// Longer than a Degraded can take when the look that claimed it fails and the
			// reconciler puts it after its 60-second lease (docs/incidents.md).
			"storm_wait_seconds":              90,
			"disconnect_grace_period_seconds": gracePeriodSeconds,
			"storm_digest":                    map[string]any{"threshold": 20, "window_seconds": 300, "group_by": "thing_group"},
		},
		EnvVars: terraformEnv(t),
		NoColor: true,
	})
	defer terraform.DestroyContext(t, t.Context(), options)
	terraform.InitAndApplyContext(t, t.Context(), options)
	out := terraform.OutputAllContext(t, t.Context(), options)
	function := out["presence_function_name"].(string)

	version := int64(1)
	events := func(kind string, ids []string) []string {
		version++
		now := time.Now().UnixMilli()
		var out []string
		for _, id := range ids {
			out = append(out, fmt.Sprintf(`{"eventType":%q,"clientId":%q,"versionNumber":%d,"timestamp":%d,"sessionIdentifier":"s","principalIdentifier":"p"}`, kind, id, version, now))
		}
		return out
	}
	everyone := append(append([]string{}, site...), singles...)
	for start := 0; start < len(everyone); start += 20 {
		deliver(t, cfg, where, function, events("connected", everyone[start:min(start+20, len(everyone))]))
	}
	// Connected devices page nobody: nothing was open.
	time.Sleep(5 * time.Second)
	assert.Zero(t, receiverCall(t, http.MethodGet, receiver+"/_receiver/state", nil).Accepted)

	// PagerDuty throttles and fails some posts; EventBridge reorders and repeats.
	receiverCall(t, http.MethodPost, receiver+"/_receiver/faults", []map[string]any{
		{"status": 429, "probability": 0.3, "count": 8},
		{"status": 500, "probability": 0.3, "count": 8},
	})
	chaos(t, http.MethodPost, "faults", []map[string]any{
		{"service": "events", "rule": out["pager_rule_name"], "delivery": map[string]any{"reorderWindow": 3000, "duplicate": 0.3}},
	})
	defer chaos(t, http.MethodPost, "faults", []map[string]any{})

	// Published without waiting for the emulator to drain: the pager's held triggers are
	// delayed messages a drain would wait for.
	publishAll(t, cfg, where, function, events("disconnected", everyone))
	stormKey := name + "/storm/"
	down := awaitReceiver(t, receiver, "one storm incident and one per single device", 6*time.Minute, func(s receiverState) bool {
		storms, devices := 0, 0
		for _, alert := range s.Alerts {
			if alert.Status != "triggered" {
				continue
			}
			if strings.HasPrefix(alert.DedupKey, stormKey) {
				storms++
			} else {
				devices++
			}
		}
		return storms == 1 && devices == pagerSingleDevices
	})
	// Long enough for a site device's held trigger to be posted, were it not folded in.
	time.Sleep(20 * time.Second)
	down = receiverCall(t, http.MethodGet, receiver+"/_receiver/state", nil)
	var pagedKeys []string
	for _, alert := range down.Alerts {
		pagedKeys = append(pagedKeys, alert.DedupKey)
	}
	assert.Len(t, pagedKeys, 1+pagerSingleDevices, "one incident per storm and per single device: %v", pagedKeys)
	for _, id := range singles {
		assert.Contains(t, pagedKeys, name+"/"+id)
	}

	publishAll(t, cfg, where, function, events("connected", everyone))
	back := awaitReceiver(t, receiver, "every incident resolved", 4*time.Minute, func(s receiverState) bool {
		for _, alert := range s.Alerts {
			if alert.Status != "resolved" {
				return false
			}
		}
		return len(s.Alerts) > 0
	})
	assert.Len(t, back.Alerts, 1+pagerSingleDevices, "no incident opened on the way back")
	assert.Empty(t, back.Dropped, "no resolve reached PagerDuty before its trigger")
	for _, alert := range back.Alerts {
		require.NotEmpty(t, alert.Events)
		assert.Equal(t, "trigger", alert.Events[0].EventAction, "%s opened by its trigger", alert.DedupKey)
		assert.Equal(t, "resolve", alert.Events[len(alert.Events)-1].EventAction, "%s closed by its resolve", alert.DedupKey)
		payload, _ := alert.Events[0].Body["payload"].(map[string]any)
		require.NotNil(t, payload, "%s: a trigger carries its payload", alert.DedupKey)
		assert.NotEmpty(t, payload["summary"])
		assert.NotEmpty(t, payload["custom_details"])
		if strings.HasPrefix(alert.DedupKey, stormKey) {
			assert.Equal(t, name+"-site", payload["group"], "the storm names its group")
		} else {
			assert.Equal(t, "camera", payload["component"], "the device's thing type")
			assert.Equal(t, name+"-solo", payload["group"], "the device's thing group")
		}
	}
	faults := 0
	for _, refusal := range back.Refused {
		assert.Equal(t, "fault", refusal.Reason, "every refusal was an injected fault, never the rate or a field")
		faults++
	}
	assert.Positive(t, faults, "the receiver's faults were hit")
	for key, count := range back.MaxPerMinute {
		assert.LessOrEqual(t, count, pagerRate, "events per minute for key %s", key)
	}
}
