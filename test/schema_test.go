package test

// The events' JSON Schemas (schemas/, JSON Schema Draft 4, as the EventBridge schema
// registry takes them): every announcement a test reads off a queue is validated against
// them (validateAnnouncement), and this file's unit test proves that they accept what the
// notifier puts and refuse what it must not.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The schema of each event family, by its file in schemas/, and the detail-types it covers.
var schemaFiles = map[string][]string{
	"device-connectivity-event.schema.json": {"Device Connected", "Device Disconnected"},
	"fleet-connectivity-event.schema.json":  {"Fleet Connectivity Degraded", "Fleet Connectivity Restored"},
}

// eventSchemas compiles schemas/ once: the schema of each file, by file name.
var eventSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft4)
	compiler.AssertFormat()
	compiled := map[string]*jsonschema.Schema{}
	for file := range schemaFiles {
		path, err := filepath.Abs(filepath.Join("..", "schemas", file))
		if err != nil {
			return nil, err
		}
		schema, err := compiler.Compile(path)
		if err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", file, err)
		}
		compiled[file] = schema
	}
	return compiled, nil
})

// schemaFileOf names the schema of an event's detail-type ("" for none).
func schemaFileOf(detailType any) string {
	for file, types := range schemaFiles {
		for _, known := range types {
			if detailType == known {
				return file
			}
		}
	}
	return ""
}

// announcementError validates an event (a message body as json.Unmarshal reads it)
// against the schema of its detail-type; nil when it conforms.
func announcementError(event map[string]any) error {
	schemas, err := eventSchemas()
	if err != nil {
		return err
	}
	file := schemaFileOf(event["detail-type"])
	if file == "" {
		return fmt.Errorf("detail-type %v is none of the announcements' (schemas/)", event["detail-type"])
	}
	if err := schemas[file].Validate(map[string]any(event)); err != nil {
		return fmt.Errorf("schemas/%s: %w", file, err)
	}
	return nil
}

// validateAnnouncement fails the test when an announcement read off a queue does not
// conform to the schema of its detail-type, with the validator's message and the event.
func validateAnnouncement(t *testing.T, event map[string]any) {
	t.Helper()
	if err := announcementError(event); err != nil {
		body, _ := json.Marshal(event)
		t.Fatalf("an announcement that does not conform to its schema:\n%s\n%v", body, err)
	}
}

// envelope wraps a detail in the envelope EventBridge delivers to a queue.
func envelope(detailType, detail string) map[string]any {
	text := fmt.Sprintf(`{"version": "0", "id": "9f7c3b1e-5a0d-4c2e-8f61-0b4d7e2a9c35", "detail-type": %q,
		"source": "iot.device-connectivity", "account": "123456789012", "time": "2026-11-26T08:31:09Z",
		"region": "eu-west-1", "resources": [], "detail": %s}`, detailType, detail)
	var event map[string]any
	if err := json.Unmarshal([]byte(text), &event); err != nil {
		panic(fmt.Sprintf("%v: %s", err, text))
	}
	return event
}

func TestSchemasAcceptTodaysAnnouncementsAndRefuseMalformed(t *testing.T) {
	const (
		connect    = `{"versionNumber": 1, "timestamp": 1795705969000, "sessionIdentifier": "s-1", "principalIdentifier": "p-1", "ipAddress": "192.0.2.31", "thingName": "cam-2"}`
		disconnect = `{"versionNumber": 0, "timestamp": 1795705880000, "disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT", "clientInitiatedDisconnect": false}`
		thing      = `{"name": "cam-2", "type": "camera", "attributes": {"site": "berlin-3", "owner": "team-a"}, "groups": ["berlin", "cameras"]}`
	)
	device := func(status, extra string) string {
		return `{"version": "1", "eventId": "e5e49da4-6938-2201-cb1a-25f848b34aa4", "clientId": "site/cam-2",
			"status": "` + status + `", "sequence": 1795705941000, "connect": ` + connect + `, "disconnect": ` + disconnect + extra + `}`
	}
	fleet := func(extra string) string {
		return `{"version": "1", "eventId": "0c1f2a3b-4d5e-6f70-8192-a3b4c5d6e7f8", "stormId": "storm-berlin-1795705941000",
			"groupBy": "thing_group", "group": "berlin", "sequence": 3, "disconnectedCount": 2,
			"clientIds": ["site/cam-2", "site/cam-3"], "since": 1795705941000` + extra + `}`
	}
	restored := `, "restoredAt": 1795706541000, "durationMs": 600000, "peakCount": 100`
	clientIDs := make([]string, 101)
	for i := range clientIDs {
		clientIDs[i] = fmt.Sprintf("%q", fmt.Sprintf("cam-%d", i))
	}
	manyClients := `{"version": "1", "eventId": "0c1f2a3b-4d5e-6f70-8192-a3b4c5d6e7f8", "stormId": "s", "groupBy": "fleet",
		"group": "fleet", "sequence": 1, "disconnectedCount": 101, "clientIds": [` + strings.Join(clientIDs, ",") + `], "since": 1}`

	accepted := []struct {
		name  string
		event map[string]any
	}{
		{"connected, a first sighting", envelope("Device Connected",
			`{"version": "1", "eventId": "da8e2b5f-e7e0-f208-f8dd-4e3ce3c07148", "clientId": "cam-2", "status": "Connected",
			  "sequence": 1795705969120, "connect": {"versionNumber": 0, "timestamp": 1795705969000}, "disconnect": null,
			  "offlineDurationMs": null}`)},
		{"connected, a return", envelope("Device Connected", device("Connected", `, "offlineDurationMs": 89000`))},
		{"disconnected", envelope("Device Disconnected",
			`{"version": "1", "eventId": "e5e49da4-6938-2201-cb1a-25f848b34aa4", "clientId": "cam-2", "status": "Disconnected",
			  "sequence": 1795705941000, "connect": {"versionNumber": 0, "timestamp": 1795705879000, "sessionIdentifier": "demo", "principalIdentifier": "demo"},
			  "disconnect": {"versionNumber": 0, "timestamp": 1795705880000, "disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT"}}`)},
		{"disconnected without a connect stored", envelope("Device Disconnected",
			`{"version": "1", "eventId": "e5e49da4-6938-2201-cb1a-25f848b34aa4", "clientId": "cam-2", "status": "Disconnected",
			  "sequence": 1, "connect": null, "disconnect": {"timestamp": 1795705880000}}`)},
		{"a farewell", envelope("Device Disconnected",
			`{"version": "1", "eventId": "e5e49da4-6938-2201-cb1a-25f848b34aa4", "clientId": "cam-2", "status": "Disconnected",
			  "sequence": 8, "connect": {"timestamp": 9000}, "disconnect": null, "reason": "ITEM_EXPIRED"}`)},
		{"with thing", envelope("Device Connected", device("Connected", `, "offlineDurationMs": null, "thing": `+thing))},
		{"with a thing without type, attributes or groups", envelope("Device Disconnected",
			device("Disconnected", `, "thing": {"name": "cam-2", "type": null, "attributes": {}, "groups": []}`))},
		{"with thing.unavailable", envelope("Device Disconnected", device("Disconnected", `, "thing": {"name": "cam-2", "unavailable": true}`))},
		{"in maintenance, in a storm", envelope("Device Disconnected", device("Disconnected",
			`, "thing": `+thing+`, "maintenance": {"windowId": "w-1", "until": 1795712000000, "reason": null}, "stormId": "storm-berlin-1795705941000"`))},
		{"degraded", envelope("Fleet Connectivity Degraded", fleet(""))},
		{"degraded by attribute", envelope("Fleet Connectivity Degraded", strings.Replace(fleet(""), `"thing_group"`, `"attribute:site"`, 1))},
		{"restored", envelope("Fleet Connectivity Restored", fleet(restored))},
	}
	for _, example := range accepted {
		assert.NoError(t, announcementError(example.event), example.name)
	}

	refused := []struct {
		name  string
		event map[string]any
		why   string // in the validator's message
	}{
		{"missing sequence", envelope("Device Disconnected",
			`{"version": "1", "eventId": "e5e49da4-6938-2201-cb1a-25f848b34aa4", "clientId": "cam-2", "status": "Disconnected",
			  "connect": null, "disconnect": {"timestamp": 1}}`), "missing property 'sequence'"},
		{"a string sequence", envelope("Device Connected",
			strings.Replace(device("Connected", `, "offlineDurationMs": null`), `"sequence": 1795705941000`, `"sequence": "1795705941000"`, 1)), "/detail/sequence"},
		{"a sequence of 0", envelope("Device Connected",
			strings.Replace(device("Connected", `, "offlineDurationMs": null`), `"sequence": 1795705941000`, `"sequence": 0`, 1)), "/detail/sequence"},
		{"clientIds of 101", envelope("Fleet Connectivity Degraded", manyClients), "/detail/clientIds"},
		{"unknown detail-type", envelope("Device Rebooted", device("Disconnected", "")), "Device Rebooted"},
		{"restored without durationMs", envelope("Fleet Connectivity Restored",
			fleet(`, "restoredAt": 1795706541000, "peakCount": 100`)), "missing property 'durationMs'"},
		{"degraded with restoredAt", envelope("Fleet Connectivity Degraded", fleet(`, "restoredAt": 1795706541000`)), "/detail/restoredAt"},
		{"a status against the detail-type", envelope("Device Connected", device("Disconnected", `, "offlineDurationMs": null`)), "/detail/status"},
		{"connected without offlineDurationMs", envelope("Device Connected", device("Connected", "")), "missing property 'offlineDurationMs'"},
		{"offlineDurationMs on a disconnect", envelope("Device Disconnected", device("Disconnected", `, "offlineDurationMs": 5`)), "/detail/offlineDurationMs"},
		{"a reason on a connect", envelope("Device Connected", device("Connected", `, "offlineDurationMs": null, "reason": "ITEM_DELETED"`)), "/detail/reason"},
		{"an unknown reason", envelope("Device Disconnected", device("Disconnected", `, "reason": "GONE"`)), "/detail/reason"},
		{"a field the contract does not have", envelope("Device Disconnected", device("Disconnected", `, "site": "berlin"`)), "'site' not allowed"},
		{"a connect field the contract does not have", envelope("Device Disconnected",
			strings.Replace(device("Disconnected", ""), `"thingName": "cam-2"`, `"thingName": "cam-2", "port": 8883`, 1)), "'port' not allowed"},
		{"a thing both known and unavailable", envelope("Device Disconnected",
			device("Disconnected", `, "thing": {"name": "cam-2", "type": null, "attributes": {}, "groups": [], "unavailable": true}`)), "/detail/thing"},
		{"a thing attribute that is not a string", envelope("Device Disconnected",
			device("Disconnected", `, "thing": {"name": "cam-2", "type": null, "attributes": {"floor": 3}, "groups": []}`)), "/detail/thing"},
		{"a maintenance without until", envelope("Device Disconnected",
			device("Disconnected", `, "maintenance": {"windowId": "w-1", "reason": null}`)), "missing property 'until'"},
		{"an unknown groupBy", envelope("Fleet Connectivity Degraded",
			strings.Replace(fleet(""), `"thing_group"`, `"site"`, 1)), "/detail/groupBy"},
		{"an envelope without time", func() map[string]any {
			event := envelope("Device Disconnected", device("Disconnected", ""))
			delete(event, "time")
			return event
		}(), "missing property 'time'"},
	}
	for _, example := range refused {
		err := announcementError(example.event)
		if assert.Error(t, err, example.name) {
			assert.Contains(t, err.Error(), example.why, example.name)
		}
	}

	// The schemas themselves refuse a detail-type of the other family or none.
	schemas, err := eventSchemas()
	require.NoError(t, err)
	for file, schema := range schemas {
		for _, detailType := range []string{"Device Rebooted", "Fleet Connectivity Degraded", "Device Connected"} {
			if schemaFileOf(detailType) != file {
				assert.Error(t, schema.Validate(envelope(detailType, device("Connected", `, "offlineDurationMs": null`))), "%s takes %s", file, detailType)
			}
		}
	}
}
