//go:build e2e

package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// historyDevice is one device's true history: sessions [connect, disconnect) in ms from
// the window's start, the last possibly open (disconnect -1), each with its version.
type historyDevice struct {
	client   string
	sessions [][3]int64 // connect offset, disconnect offset or -1, versionNumber
}

// truth is the device's uptime over [0, window) from its true sessions: connected time
// over the time since its first event.
func (d historyDevice) truth(window int64) float64 {
	var connected int64
	for _, s := range d.sessions {
		end := s[1]
		if end < 0 {
			end = window
		}
		connected += end - s[0]
	}
	return 100 * float64(connected) / float64(window-d.sessions[0][0])
}

func (d historyDevice) events(t0 int64) []string {
	var events []string
	for _, s := range d.sessions {
		common := fmt.Sprintf(`"clientId":%q,"versionNumber":%d,"sessionIdentifier":"%s-%d"`, d.client, s[2], d.client, s[2])
		events = append(events, fmt.Sprintf(`{"eventType":"connected",%s,"timestamp":%d}`, common, t0+s[0]))
		if s[1] >= 0 {
			events = append(events, fmt.Sprintf(`{"eventType":"disconnected",%s,"timestamp":%d,"disconnectReason":"CONNECTION_LOST","clientInitiatedDisconnect":false}`, common, t0+s[1]))
		}
	}
	return events
}

// assertHistory publishes a fleet's history through the rule, shuffled and duplicated,
// then reads it back as an operator does: `connectivity history` and `availability`
// give the sessions and the uptime of the true order, and the HTML report, rendered in
// headless Chromium, draws every device with its uptime.
func assertHistory(t *testing.T, cfg aws.Config, where string, out map[string]string) {
	const minute, hour = int64(60_000), int64(3_600_000)
	window := 8 * hour
	// Whole seconds: the CLI's window is given in RFC 3339 to the second.
	t0 := time.Now().Add(-9 * time.Hour).Truncate(time.Second).UnixMilli()
	prefix := out["lambda_function_name"] + "-hist"
	devices := []historyDevice{
		{prefix + "-steady", [][3]int64{{0, -1, 0}}},
		{prefix + "-flappy", [][3]int64{{0, 10 * minute, 3}, {10*minute + 5, 50 * minute, 4}, {52 * minute, 3 * hour, 5}, {5 * hour, -1, 0}}},
		{prefix + "/site-2/gw-9", [][3]int64{{hour, 2 * hour, 1}, {2*hour + 20*minute, 7 * hour, 2}}},
		{prefix + "-gone", [][3]int64{{0, 30 * minute, 8}}},
	}
	var events []string
	for _, device := range devices {
		events = append(events, device.events(t0)...)
	}
	distinct := len(events)
	random := rand.New(rand.NewSource(time.Now().UnixNano()))
	random.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	events = append(events, events[:len(events)/2]...)
	deliver(t, cfg, where, out["lambda_function_name"], events)

	historyTable := out["history_table_name"]
	require.NotEmpty(t, historyTable, "examples/complete keeps history")
	retry.DoWithRetry(t, "every event is kept once", 30, 5*time.Second, func() (string, error) {
		kept := 0
		for _, device := range devices {
			page, err := dynamodb.NewFromConfig(cfg).Query(t.Context(), &dynamodb.QueryInput{
				TableName:              aws.String(historyTable),
				KeyConditionExpression: aws.String("ClientID = :c"),
				ExpressionAttributeValues: map[string]dynamodbtypes.AttributeValue{
					":c": &dynamodbtypes.AttributeValueMemberS{Value: device.client},
				},
			})
			if err != nil {
				return "", err
			}
			kept += len(page.Items)
		}
		if kept != distinct {
			return "", fmt.Errorf("%d of %d events kept", kept, distinct)
		}
		return "kept", nil
	})

	since, until := rfc3339(t0), rfc3339(t0+window)
	connectivity := func(args ...string) []byte {
		command := exec.CommandContext(t.Context(), "cargo", append([]string{"run", "--quiet", "--locked", "--bin", "connectivity", "--",
			"--table", out["dynamodb_table_name"]}, args...)...)
		command.Dir = repoRoot(t)
		output, err := command.Output()
		require.NoError(t, err, "connectivity %v: %s", args, output)
		return output
	}

	var sessions []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(connectivity("history", devices[1].client, "--since", since, "--until", until))), "\n") {
		var session map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &session))
		sessions = append(sessions, session)
	}
	require.Len(t, sessions, len(devices[1].sessions), "one session per true session")
	for i, session := range sessions {
		assert.Equal(t, rfc3339(t0+devices[1].sessions[i][0]), session["connectedAt"])
	}
	assert.Equal(t, "open", sessions[len(sessions)-1]["state"])

	page := filepath.Join(t.TempDir(), "report.html")
	args := []string{"availability", "--since", since, "--until", until, "--format", "json", "--html", page}
	for _, device := range devices {
		args = append(args, "--client", device.client)
	}
	var report struct {
		Devices []struct {
			ClientID            string  `json:"clientId"`
			AvailabilityPercent float64 `json:"availabilityPercent"`
		} `json:"devices"`
	}
	require.NoError(t, json.Unmarshal(connectivity(args...), &report))
	require.Len(t, report.Devices, len(devices))
	for i, device := range devices {
		assert.Equal(t, device.client, report.Devices[i].ClientID)
		assert.InDelta(t, device.truth(window), report.Devices[i].AvailabilityPercent, 0.001, device.client)
	}

	drawn := renderedDevices(t, page)
	for _, device := range devices {
		uptime, ok := drawn[device.client]
		if assert.True(t, ok, "%s is drawn in the rendered report", device.client) {
			assert.InDelta(t, device.truth(window), uptime, 0.001, device.client)
		}
	}
}

// renderedDevices opens the report in headless Chromium and reads, from the DOM its
// script built, each device drawn and the uptime shown with it.
func renderedDevices(t *testing.T, page string) map[string]float64 {
	browser, err := exec.LookPath("chromium")
	require.NoError(t, err, "chromium is installed by scripts/setup.sh for the test command")
	var dom []byte
	retry.DoWithRetry(t, "the report renders", 3, time.Second, func() (string, error) {
		command := exec.CommandContext(t.Context(), browser, "--headless", "--no-sandbox", "--disable-gpu",
			"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page)
		command.Stderr = os.Stderr
		dom, err = command.Output()
		if err != nil {
			return "", err
		}
		if !strings.Contains(string(dom), `data-rendered="true"`) {
			return "", errors.New("the page's script did not finish")
		}
		return "rendered", nil
	})
	drawn := map[string]float64{}
	rows := regexp.MustCompile(`<g class="device" data-client-id="([^"]*)" data-availability="([^"]*)">(.*?)</g>`)
	for _, row := range rows.FindAllStringSubmatch(string(dom), -1) {
		if !strings.Contains(row[3], `class="up session"`) && !strings.Contains(row[3], `class="unknown session"`) {
			continue // a device drawn without its sessions is not drawn
		}
		if !strings.Contains(row[3], "%</text>") {
			continue // nor one without its uptime shown
		}
		uptime, err := strconv.ParseFloat(row[2], 64)
		require.NoError(t, err)
		drawn[strings.ReplaceAll(row[1], "&amp;", "&")] = uptime
	}
	return drawn
}

func rfc3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Truncate(time.Second).Format(time.RFC3339)
}
