//go:build e2e

package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const devicesPerSite = 100

// TestRoutingExample applies examples/routing and drives 300 devices in 3 thing groups
// through the deployed pipeline: site a drops at once (one Fleet Connectivity Degraded
// naming it, with its count), site b's class has a 10-minute grace (nothing announced while
// it waits), site c is in maintenance (its announcements say so, and no storm); site a's
// return is one Fleet Connectivity Restored with the storm's id. Every device announcement
// carries its thing's type, attributes and groups, and every announcement is validated
// against schemas/ as it is read.
//
// On demand (ROUTING_E2E=1): beside the complete example's tests, its 300 devices through
// two deployments (every deployment hears every test's lifecycle events) overloaded the
// emulator on 2 cores. The test command runs the same scenario through a real Notifier in
// function/tests/routing_emulator.rs.
func TestRoutingExample(t *testing.T) {
	if os.Getenv("ROUTING_E2E") == "" {
		t.Skip("on demand: ROUTING_E2E=1 (see the comment above)")
	}
	t.Parallel()
	where := target(t)
	cfg := awsConfig(t)
	name := uniqueName()
	site := func(s string) string { return name + "-site-" + s }
	options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: filepath.Join(copyRepo(t), "examples", "routing"),
		Vars: map[string]any{
			"name": name, "region": cfg.Region,
			"disconnect_grace_period_seconds": gracePeriodSeconds,
			"disconnect_grace_period_overrides": []map[string]any{
				{"thing_group": site("b"), "seconds": 600},
			},
			"storm_digest": map[string]any{"threshold": 50, "window_seconds": 300, "group_by": "thing_group"},
		},
		EnvVars: terraformEnv(t),
		NoColor: true,
	})
	defer terraform.DestroyContext(t, t.Context(), options)
	terraform.InitAndApplyContext(t, t.Context(), options)
	out := terraform.OutputAllContext(t, t.Context(), options)
	queue := out["events_queue_url"].(string)
	table := out["dynamodb_table_name"].(string)
	function := out["presence_function_name"].(string)

	for _, s := range []string{"a", "b", "c"} {
		registerGroup(t, cfg, site(s), devicesPerSite)
	}
	clients := func(s string) []string {
		var ids []string
		for i := range devicesPerSite {
			ids = append(ids, fmt.Sprintf("%s-%03d", site(s), i))
		}
		return ids
	}
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

	// Everyone connects, 20 devices at a time, as a fleet comes online: a burst of first
	// sightings that the registry cannot answer within 3 s is announced without context
	// (docs/announcements.md), and the emulator answers slowly while other tiers run.
	// 300 Device Connected, each with its thing.
	everyone := append(append(clients("a"), clients("b")...), clients("c")...)
	for start := 0; start < len(everyone); start += 20 {
		wave := everyone[start:min(start+20, len(everyone))]
		deliver(t, cfg, where, function, events("connected", wave))
		connected := awaitAnnouncements(t, cfg, queue, site(""), func(seen []map[string]any) bool {
			return len(ofDetailType(seen, "Device Connected")) >= len(wave)
		})
		for _, event := range ofDetailType(connected, "Device Connected") {
			assertThing(t, event)
		}
	}

	// Site c goes into maintenance, through the operator's CLI.
	command := exec.CommandContext(t.Context(), "cargo", "run", "--quiet", "--locked", "--bin", "connectivity", "--",
		"--table", table, "maintenance", "start", "--group", site("c"), "--for", "1h", "--reason", "firmware rollout")
	command.Dir = repoRoot(t)
	output, err := command.Output()
	require.NoError(t, err, "connectivity maintenance start: %s", output)

	// Sites a and c drop whole, ten of site b too.
	dropped := append(append(clients("a"), clients("c")...), clients("b")[:10]...)
	// Published without waiting for the emulator to drain: site b's ten wait out a
	// 10-minute grace in the grace queue, which a drain would wait for.
	publishAll(t, cfg, where, function, events("disconnected", dropped))
	down := awaitAnnouncements(t, cfg, queue, site(""), func(seen []map[string]any) bool {
		return len(ofDetailType(seen, "Device Disconnected")) >= 2*devicesPerSite &&
			len(ofDetailType(seen, "Fleet Connectivity Degraded")) >= 1
	})
	// Longer than the default grace and a reconcile pass (one minute, scaled by the
	// emulator), for anything late to show.
	time.Sleep(10 * time.Second)
	down = append(down, ours(takeMessages(t, cfg, queue), site(""))...)

	degraded := ofDetailType(down, "Fleet Connectivity Degraded")
	require.Len(t, degraded, 1, "one storm, for site a: %v", degraded)
	storm := detailOf(degraded[0])
	assert.Equal(t, site("a"), storm["group"])
	assert.Equal(t, "thing_group", storm["groupBy"])
	count := storm["disconnectedCount"].(float64)
	assert.GreaterOrEqual(t, count, 50.0, "at least the threshold")
	assert.LessOrEqual(t, count, float64(devicesPerSite))
	assert.Len(t, storm["clientIds"], int(count), "every one of them listed (under 100)")
	stormID := storm["stormId"].(string)

	bySite := map[string]int{}
	// Every device of site a is in the digest (it went down before the storm opened) or
	// names the storm in its own announcement (after), or both.
	ofStorm := map[string]bool{}
	for _, id := range storm["clientIds"].([]any) {
		ofStorm[id.(string)] = true
	}
	for _, event := range ofDetailType(down, "Device Disconnected") {
		detail := detailOf(event)
		assertThing(t, event)
		group := detail["thing"].(map[string]any)["groups"].([]any)[0].(string)
		bySite[group]++
		switch group {
		case site("c"):
			maintenance, ok := detail["maintenance"].(map[string]any)
			require.True(t, ok, "site c is in maintenance: %v", detail)
			assert.Equal(t, "firmware rollout", maintenance["reason"])
			assert.NotContains(t, detail, "stormId", "a device in maintenance counts in no storm")
		case site("a"):
			if detail["stormId"] == stormID {
				ofStorm[detail["clientId"].(string)] = true
			}
		}
	}
	assert.Equal(t, map[string]int{site("a"): devicesPerSite, site("c"): devicesPerSite}, bySite,
		"site b's ten wait out their class's 10-minute grace")
	assert.Len(t, ofStorm, devicesPerSite, "every device of site a is in the digest or names the storm")

	// Site a returns: 100 Device Connected, then one Fleet Connectivity Restored.
	publishAll(t, cfg, where, function, events("connected", clients("a")))
	back := awaitAnnouncements(t, cfg, queue, site(""), func(seen []map[string]any) bool {
		return len(ofDetailType(seen, "Fleet Connectivity Restored")) >= 1
	})
	time.Sleep(5 * time.Second)
	back = append(back, ours(takeMessages(t, cfg, queue), site(""))...)
	assert.Len(t, ofDetailType(back, "Device Connected"), devicesPerSite)
	restored := ofDetailType(back, "Fleet Connectivity Restored")
	require.Len(t, restored, 1)
	detail := detailOf(restored[0])
	assert.Equal(t, stormID, detail["stormId"])
	assert.Greater(t, detail["sequence"].(float64), storm["sequence"].(float64))
	assert.Equal(t, 0.0, detail["disconnectedCount"])
	assert.Empty(t, ofDetailType(back, "Fleet Connectivity Degraded"), "site c stays out of storms")
}

func assertThing(t *testing.T, event map[string]any) {
	t.Helper()
	detail := detailOf(event)
	thing, ok := detail["thing"].(map[string]any)
	require.True(t, ok, "no thing: %v", detail)
	require.NotContains(t, thing, "unavailable", "%v", detail)
	assert.Equal(t, detail["clientId"], thing["name"])
	assert.Equal(t, "camera", thing["type"], "%v", thing)
	assert.Equal(t, map[string]any{"site": thing["groups"].([]any)[0]}, thing["attributes"])
	assert.Len(t, thing["groups"], 1)
}

func detailOf(event map[string]any) map[string]any {
	detail, _ := event["detail"].(map[string]any)
	return detail
}

// ofDetailType: the announcements of one detail-type, each once. EventBridge delivers at
// least once (and the emulator's delivery fault, which a parallel test may turn on, repeats
// some), so a consumer keeps one per detail.eventId, as this does.
func ofDetailType(events []map[string]any, detailType string) []map[string]any {
	var of []map[string]any
	seen := map[any]bool{}
	for _, event := range events {
		id := detailOf(event)["eventId"]
		if event["detail-type"] == detailType && !seen[id] {
			seen[id] = true
			of = append(of, event)
		}
	}
	return of
}

// awaitAnnouncements reads the queue until done says enough arrived (two minutes at most).
func awaitAnnouncements(t *testing.T, cfg aws.Config, queue, prefix string, done func([]map[string]any) bool) []map[string]any {
	t.Helper()
	var seen []map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for !done(seen) {
		require.True(t, time.Now().Before(deadline), "announcements did not arrive: %d read", len(seen))
		seen = append(seen, ours(takeMessages(t, cfg, queue), prefix)...)
		time.Sleep(time.Second)
	}
	return seen
}

// ours: the announcements of this test's devices and groups. Every deployment's topic rule
// hears every test's lifecycle events, so the deployment announces other tests' devices too.
func ours(events []map[string]any, prefix string) []map[string]any {
	var kept []map[string]any
	for _, event := range events {
		detail := detailOf(event)
		client, _ := detail["clientId"].(string)
		group, _ := detail["group"].(string)
		if strings.HasPrefix(client, prefix) || strings.HasPrefix(group, prefix) {
			kept = append(kept, event)
		}
	}
	return kept
}
