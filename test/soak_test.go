//go:build e2e

package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The short soak runs in the test command; SOAK_CLIENTS and SOAK_OUTAGE_SECONDS make the
// long one (scripts/soak.sh: 1,000 devices dropping at once, a 10-minute outage).
func soakSettings() (clients int, outage time.Duration) {
	clients, outageSeconds := 60, 20
	if value, err := strconv.Atoi(os.Getenv("SOAK_CLIENTS")); err == nil && value > 0 {
		clients = value
	}
	if value, err := strconv.Atoi(os.Getenv("SOAK_OUTAGE_SECONDS")); err == nil && value > 0 {
		outageSeconds = value
	}
	return clients, time.Duration(outageSeconds) * time.Second
}

// chaos sets or reads the emulator's fault injection (tools/emulator/README.md).
func chaos(t *testing.T, method, path string, body any) []map[string]any {
	t.Helper()
	var payload []byte
	if body != nil {
		var err error
		payload, err = json.Marshal(body)
		require.NoError(t, err)
	}
	request, err := http.NewRequestWithContext(t.Context(), method,
		strings.TrimRight(os.Getenv("AWS_ENDPOINT_URL"), "/")+"/_emulator/chaos/"+path, bytes.NewReader(payload))
	require.NoError(t, err)
	response, err := http.DefaultClient.Do(request)
	require.NoError(t, err)
	defer response.Body.Close()
	require.Equal(t, http.StatusOK, response.StatusCode, "%s %s", method, path)
	var answer []map[string]any
	if path == "faults" || path == "log" {
		require.NoError(t, json.NewDecoder(response.Body).Decode(&answer))
	}
	return answer
}

// assertAnnouncementsUnderFaults publishes a shuffled, duplicated fleet history (client
// IDs with slashes, flaps, outages) through the rule while EventBridge is down for
// longer than any retry window, a fifth of DynamoDB writes are throttled, SQS sends fail
// and the notifier crashes. Once the faults end, with no operator action, every client's
// last announcement agrees with the table within a reconcile interval or so.
func assertAnnouncementsUnderFaults(t *testing.T, cfg aws.Config, where, deployment string, out map[string]string) {
	clients, outage := soakSettings()
	history := newFleetHistory(out["lambda_function_name"]+"-soak", clients, time.Now().UnixNano())
	takeMessages(t, cfg, out["events_queue_url"]) // what the earlier subtests left

	// First sessions' connects before the faults, so that devices announced Connected then
	// drop during the outage (grace checks, pending Disconnected announcements).
	var before, during []string
	first := map[string]bool{}
	for _, event := range history.events {
		if strings.Contains(event, `"eventType":"connected"`) && strings.Contains(event, `"versionNumber":0,`) && !first[event] {
			first[event] = true
			before = append(before, event)
		} else {
			during = append(during, event)
		}
	}
	publishAll(t, cfg, where, out["lambda_function_name"], before)
	time.Sleep(5 * time.Second)

	faulted := where == targetEmulator
	// EventBridge keeps no delivery order and delivers at least once: the consumer's rule
	// delivers each announcement up to 2 s late, a fifth of them twice.
	reordered := map[string]any{"service": "events", "delivery": map[string]any{"reorderWindow": 2000, "duplicate": 0.2}}
	if faulted {
		chaos(t, http.MethodDelete, "log", nil)
		chaos(t, http.MethodPost, "seed", map[string]any{"seed": 7})
		chaos(t, http.MethodPost, "faults", []map[string]any{
			{"service": "events", "operation": "PutEvents", "error": map[string]any{"statusCode": 500, "code": "InternalException"}},
			{"service": "dynamodb", "operation": "UpdateItem", "probability": 0.2,
				"error": map[string]any{"statusCode": 400, "code": "ProvisionedThroughputExceededException"}},
			{"service": "dynamodb", "operation": "GetItem", "probability": 0.1,
				"error": map[string]any{"statusCode": 500, "code": "InternalServerError"}},
			{"service": "sqs", "operation": "SendMessage", "probability": 0.3,
				"error": map[string]any{"statusCode": 500, "code": "InternalError"}},
			{"service": "lambda", "function": out["notifier_function_name"], "invocationError": "crash", "probability": 0.2},
			reordered,
		})
		defer chaos(t, http.MethodPost, "faults", []map[string]any{})
	}
	started := time.Now()
	publishAll(t, cfg, where, out["lambda_function_name"], during)
	if faulted {
		time.Sleep(time.Until(started.Add(outage)))
		// The outage ends; EventBridge goes on delivering in any order, some twice.
		chaos(t, http.MethodPost, "faults", []map[string]any{reordered})
	}
	recovered := time.Now()

	table := out["dynamodb_table_name"]
	arrivals := map[string]time.Time{} // eventId -> first delivery to the queue
	received := map[string][]map[string]any{}
	total := 0
	settled := func() error {
		for _, message := range takeSentMessages(t, cfg, out["events_queue_url"]) {
			detail := message.body["detail"].(map[string]any)
			client := detail["clientId"].(string)
			if !strings.HasPrefix(client, out["lambda_function_name"]+"-soak") {
				continue
			}
			total++
			if first, seen := arrivals[detail["eventId"].(string)]; !seen || message.sent.Before(first) {
				arrivals[detail["eventId"].(string)] = message.sent
			}
			received[client] = append(received[client], detail)
		}
		for client, truth := range history.truth {
			item := getItem(t, cfg, table, client)
			if status := attributeText(item, "Status"); status != truth.status {
				return fmt.Errorf("%s is %q in the table, %q in truth", client, status, truth.status)
			}
			if _, owed := item["OwedShard"]; owed {
				return fmt.Errorf("%s still owes an announcement", client)
			}
			if last := appliedBySequence(received[client]); last != truth.status && (truth.status != "Disconnected" || last != "") {
				return fmt.Errorf("%s is %s, a consumer applying by sequence is on %q", client, truth.status, last)
			}
			// The example's own consumer (its view role), fed by the same rule.
			if viewed := attributeText(getItem(t, cfg, out["announced_table_name"], client), "Status"); viewed != truth.status && (truth.status != "Disconnected" || viewed != "") {
				return fmt.Errorf("%s is %s, the example's consumer holds %q", client, truth.status, viewed)
			}
		}
		return nil
	}
	deadline := time.Now().Add(3*time.Minute + outage)
	var err error
	for err = settled(); err != nil && time.Now().Before(deadline); err = settled() {
		time.Sleep(time.Second)
	}
	require.NoError(t, err, "announcements agree with the table after the faults end")

	duplicates := total - len(arrivals)
	var lastArrival time.Time
	for _, at := range arrivals {
		if at.After(lastArrival) {
			lastArrival = at
		}
	}
	reorderedArrivals := 0
	for client, details := range received {
		type announced struct {
			status   string
			sequence float64
		}
		byID := map[string]announced{}
		previous := 0.0
		for _, detail := range details {
			id, status := detail["eventId"].(string), detail["status"].(string)
			sequence, _ := detail["sequence"].(float64)
			if sequence < previous {
				reorderedArrivals++
			}
			previous = sequence
			if earlier, seen := byID[id]; seen {
				assert.Equal(t, earlier, announced{status, sequence}, "%s: eventId %s announced with two statuses or sequences", client, id)
				continue
			}
			byID[id] = announced{status, sequence}
		}
		// In sequence order (the consumer's), announcements alternate.
		order := make([]announced, 0, len(byID))
		for _, a := range byID {
			order = append(order, a)
		}
		sort.Slice(order, func(i, j int) bool { return order[i].sequence < order[j].sequence })
		for i := 1; i < len(order); i++ {
			assert.Less(t, order[i-1].sequence, order[i].sequence, "%s: two announcements with one sequence", client)
			assert.NotEqual(t, order[i-1].status, order[i].status, "%s: announcements alternate by sequence: %v", client, order)
		}
	}
	connected := connectedItems(t, cfg, table)
	waitForConnectedDevices(t, cfg, deployment, len(connected))
	assertStormsUnderFaults(t, cfg, out, received)

	injected, byKind := map[string]int{}, map[string]int{}
	if faulted {
		for _, record := range chaos(t, http.MethodGet, "log", nil) {
			injected[fmt.Sprintf("%v %v %v", record["kind"], record["operation"], record["code"])]++
			byKind[fmt.Sprint(record["kind"])]++
		}
	}
	kinds := make([]string, 0, len(injected))
	for kind, count := range injected {
		kinds = append(kinds, fmt.Sprintf("%s: %d", kind, count))
	}
	sort.Strings(kinds)
	recovery := lastArrival.Sub(recovered)
	t.Logf("soak: %d clients, %d events, outage %s; faults injected: %s; %d announcements (%d distinct, %d duplicates, %d arrived after a later one of their client); recovery to the last owed announcement: %s",
		len(history.truth), len(history.events), outage, strings.Join(kinds, ", "), total, len(arrivals), duplicates, reorderedArrivals, recovery.Round(100*time.Millisecond))
	if faulted {
		assert.NotEmpty(t, injected, "faults were injected")
		assert.Positive(t, byKind["delivery-duplicated"], "deliveries were duplicated: %v", injected)
		// One reconcile interval is 3 s on the emulator (rate(1 minute), time scale 0.05);
		// the rest is the pass itself and the queue the test reads.
		assert.Less(t, recovery, 30*time.Second, "owed announcements arrive soon after the outage ends")
	}
}

// appliedBySequence is where a consumer ends that applies an announcement only if its
// sequence is above the last one it applied (docs/announcements.md), whatever the order
// the announcements arrived in.
func appliedBySequence(details []map[string]any) string {
	last, applied := 0.0, ""
	for _, detail := range details {
		if sequence, _ := detail["sequence"].(float64); sequence > last {
			last, applied = sequence, detail["status"].(string)
		}
	}
	return applied
}

// publishAll hands events to the pipeline as deliver does, without waiting for the
// emulator to drain (the faults keep it busy).
func publishAll(t *testing.T, cfg aws.Config, where, functionName string, events []string) {
	t.Helper()
	if where != targetEmulator {
		deliver(t, cfg, where, functionName, events)
		return
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(events))
	// Bounded, as a broker's fan-out is: thousands of requests at once only measure how
	// many sockets the machine allows.
	slots := make(chan struct{}, 64)
	for _, event := range events {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			errs <- publish(t, cfg, lifecycleTopic(event), []byte(event))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// assertStormsUnderFaults: the soak's outage is a storm of the fleet (storm_digest by
// fleet, a threshold of soakStormThreshold): through the same faults, the fleet
// announcements alternate Degraded, Restored in sequence order, a Restored closes its
// Degraded's storm, and every stormId a device announcement named was announced Degraded.
func assertStormsUnderFaults(t *testing.T, cfg aws.Config, out map[string]string, received map[string][]map[string]any) {
	t.Helper()
	named := map[string]bool{}
	disconnects := map[string]bool{}
	for _, details := range received {
		for _, detail := range details {
			if detail["status"] == "Disconnected" {
				disconnects[detail["eventId"].(string)] = true
			}
			if id, ok := detail["stormId"].(string); ok {
				named[id] = true
			}
		}
	}
	// A pass or two for a Degraded released by the outage to be put again.
	var fleet []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	degraded := map[string]bool{}
	for {
		fleet = append(fleet, takeMessages(t, cfg, out["fleet_events_queue_url"])...)
		for _, event := range ofDetailType(fleet, "Fleet Connectivity Degraded") {
			degraded[detailOf(event)["stormId"].(string)] = true
		}
		missing := 0
		for id := range named {
			if !degraded[id] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	for id := range named {
		assert.True(t, degraded[id], "a device announcement names storm %s, never announced Degraded", id)
	}
	if len(disconnects) >= soakStormThreshold {
		assert.NotEmpty(t, degraded, "%d Device Disconnected within the soak, no storm", len(disconnects))
	}
	// Per group (one: the fleet), in sequence order, Degraded and Restored alternate.
	byGroup := map[string][]map[string]any{}
	for _, detailType := range []string{"Fleet Connectivity Degraded", "Fleet Connectivity Restored"} {
		for _, event := range ofDetailType(fleet, detailType) {
			detail := detailOf(event)
			detail["type"] = detailType
			byGroup[detail["group"].(string)] = append(byGroup[detail["group"].(string)], detail)
		}
	}
	for group, details := range byGroup {
		sort.Slice(details, func(i, j int) bool { return details[i]["sequence"].(float64) < details[j]["sequence"].(float64) })
		for i, detail := range details {
			want := "Fleet Connectivity Degraded"
			if i%2 == 1 {
				want = "Fleet Connectivity Restored"
				assert.Equal(t, details[i-1]["stormId"], detail["stormId"], "%s: a Restored closes its storm", group)
			}
			assert.Equal(t, want, detail["type"], "%s: fleet announcements alternate by sequence", group)
		}
	}
	t.Logf("soak: %d storm(s) announced Degraded, %d fleet announcements, %d storm(s) named by devices", len(degraded), len(fleet), len(named))
}
