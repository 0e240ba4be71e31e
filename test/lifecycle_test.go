//go:build e2e

package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"
)

// deliver hands lifecycle events to the deployed pipeline the way each target allows.
// On the emulator they are published as IoT Core publishes them, to
// $aws/events/presence/<eventType>/<clientId> (the topic rule then invokes the function
// asynchronously), and deliver returns once the emulator has drained. AWS refuses
// client publishes to $aws/events, so there the function is invoked asynchronously
// (InvocationType=Event), as the rule would, and callers poll for the outcome.
func deliver(t *testing.T, cfg aws.Config, where, functionName string, events []string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(events))
	work := make(chan string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for event := range work {
				if where == targetEmulator {
					errs <- publish(t, cfg, lifecycleTopic(event), []byte(event))
					continue
				}
				_, err := lambda.NewFromConfig(cfg).Invoke(t.Context(), &lambda.InvokeInput{
					FunctionName:   aws.String(functionName),
					InvocationType: lambdatypes.InvocationTypeEvent,
					Payload:        []byte(event),
				})
				errs <- err
			}
		}()
	}
	for _, event := range events {
		work <- event
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	if where == targetEmulator {
		drain(t)
	}
}

func lifecycleTopic(event string) string {
	var fields struct {
		EventType string `json:"eventType"`
		ClientID  string `json:"clientId"`
	}
	_ = json.Unmarshal([]byte(event), &fields)
	return "$aws/events/presence/" + fields.EventType + "/" + fields.ClientID
}

// publish is the IoT data plane's Publish, signed with SigV4 (the Go SDK's iotdataplane
// client is not in this module's dependencies).
func publish(t *testing.T, cfg aws.Config, topic string, payload []byte) error {
	endpoint := strings.TrimRight(os.Getenv("AWS_ENDPOINT_URL"), "/")
	request, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		endpoint+"/topics/"+url.PathEscape(topic)+"?qos=1", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	credentials, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		return err
	}
	digest := sha256.Sum256(payload)
	if err := v4.NewSigner().SignHTTP(t.Context(), credentials, request, hex.EncodeToString(digest[:]), "iotdata", cfg.Region, time.Now()); err != nil {
		return err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("publish to %s: HTTP %d", topic, response.StatusCode)
	}
	return nil
}

// drain waits until the emulator has nothing in flight: rule actions, asynchronous
// invocations and their retries.
func drain(t *testing.T) {
	t.Helper()
	response, err := http.Get(strings.TrimRight(os.Getenv("AWS_ENDPOINT_URL"), "/") + "/_emulator/drain?timeout=300")
	require.NoError(t, err)
	defer response.Body.Close()
	var state struct {
		Idle    bool `json:"idle"`
		Pending int  `json:"pending"`
	}
	require.NoError(t, json.NewDecoder(response.Body).Decode(&state))
	require.True(t, state.Idle, "the emulator still has %d item(s) in flight", state.Pending)
}

func getItem(t *testing.T, cfg aws.Config, table, client string) map[string]dynamodbtypes.AttributeValue {
	t.Helper()
	got, err := dynamodb.NewFromConfig(cfg).GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]dynamodbtypes.AttributeValue{"ClientID": &dynamodbtypes.AttributeValueMemberS{Value: client}},
		ConsistentRead: aws.Bool(true),
	})
	require.NoError(t, err)
	return got.Item
}

func attributeText(item map[string]dynamodbtypes.AttributeValue, name string) string {
	switch value := item[name].(type) {
	case *dynamodbtypes.AttributeValueMemberS:
		return value.Value
	case *dynamodbtypes.AttributeValueMemberN:
		return value.Value
	}
	return ""
}

// queueMessages receives what a queue holds (up to max), leaving it there.
func queueMessages(t *testing.T, cfg aws.Config, queueURL string, max int) []map[string]any {
	t.Helper()
	var messages []map[string]any
	client := sqs.NewFromConfig(cfg)
	for len(messages) < max {
		received, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 1,
		})
		require.NoError(t, err)
		if len(received.Messages) == 0 {
			break
		}
		for _, message := range received.Messages {
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(message.Body)), &body))
			messages = append(messages, body)
		}
	}
	return messages
}

// fleetHistory is a shuffled, partly duplicated history of sessions for `clients`
// devices (every fifth with slashes in its client ID), and the status each device must
// end with: Connected when its last session has no disconnect yet.
type fleetHistory struct {
	events []string
	truth  map[string]truthItem
}

type truthItem struct {
	status      string
	connectTime int64
}

func newFleetHistory(prefix string, clients int, seed int64) fleetHistory {
	random := rand.New(rand.NewSource(seed))
	history := fleetHistory{truth: map[string]truthItem{}}
	start := time.Now().Add(-24 * time.Hour).UnixMilli()
	for c := range clients {
		client := fmt.Sprintf("%s-%03d", prefix, c)
		if c%5 == 0 {
			client = fmt.Sprintf("%s/site-%d/gw-%03d", prefix, c%7, c)
		}
		at := start + random.Int63n(60_000)
		sessions := 1 + random.Intn(3)
		for s := range sessions {
			version := int64(s)
			connectAt := at
			connect := fmt.Sprintf(`{"eventType":"connected","clientId":%q,"versionNumber":%d,"timestamp":%d,"sessionIdentifier":"s-%d","principalIdentifier":"p"}`, client, version, at, s)
			history.events = append(history.events, connect)
			status := "Connected"
			if s < sessions-1 || random.Intn(2) == 0 {
				disconnectAt := at + 1 + random.Int63n(5_000)
				disconnect := fmt.Sprintf(`{"eventType":"disconnected","clientId":%q,"versionNumber":%d,"timestamp":%d,"sessionIdentifier":"s-%d","principalIdentifier":"p","disconnectReason":"CONNECTION_LOST","clientInitiatedDisconnect":false}`, client, version, disconnectAt, s)
				history.events = append(history.events, disconnect)
				status = "Disconnected"
				at = disconnectAt + 1 + random.Int63n(5_000)
			}
			history.truth[client] = truthItem{status: status, connectTime: connectAt}
		}
	}
	for _, event := range history.events {
		if random.Intn(5) == 0 {
			history.events = append(history.events, event)
		}
	}
	random.Shuffle(len(history.events), func(i, j int) {
		history.events[i], history.events[j] = history.events[j], history.events[i]
	})
	return history
}
