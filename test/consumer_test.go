//go:build e2e

package test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConsumerPinsReleaseTag is a caller's stack that pins the module by a git tag, the
// way a platform team consumes a release: from a clone of the committed repository,
// tagged, referenced as git::file://...?ref=TAG. It must apply and destroy cleanly, and
// a shuffled, duplicated history of a fleet (some client IDs with slashes) delivered
// through its pipeline must leave every item right and the dead-letter queue empty.
func TestConsumerPinsReleaseTag(t *testing.T) {
	t.Parallel()
	where := target(t)
	cfg := awsConfig(t)
	const tag = "v0.0.0-consumer-test"

	release := filepath.Join(t.TempDir(), "module")
	git := func(args ...string) {
		command := exec.CommandContext(t.Context(), "git", args...)
		output, err := command.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, output)
	}
	git("clone", "--quiet", repoRoot(t), release)
	git("-C", release, "-c", "user.name=test", "-c", "user.email=test@example.com", "tag", "-a", tag, "-m", "consumer test")

	name := uniqueName()
	stack := callerStack(t, "git::file://"+release+"?ref="+tag, "", `
  name       = "`+name+`"
  table_name = "`+name+`-DeviceConnectivity"
`)

	options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: stack,
		EnvVars:      terraformEnv(t),
		NoColor:      true,
	})
	defer terraform.DestroyContext(t, t.Context(), options)
	terraform.InitAndApplyAndIdempotentContext(t, t.Context(), options)

	table := terraform.OutputContext(t, t.Context(), options, "dynamodb_table_name")
	_, err := dynamodb.NewFromConfig(cfg).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)

	fleet := newFleetHistory(name, 200, 7)
	deliver(t, cfg, where, terraform.OutputContext(t, t.Context(), options, "lambda_function_name"), fleet.events)
	retry.DoWithRetry(t, "every item is right", 30, 10*time.Second, func() (string, error) {
		wrong := 0
		for client, want := range fleet.truth {
			item := getItem(t, cfg, table, client)
			if attributeText(item, "Status") != want.status || attributeText(item, "ConnectTime") != jsonNumber(want.connectTime) {
				wrong++
			}
		}
		if wrong > 0 {
			return "", fmt.Errorf("%d of %d items are not right yet", wrong, len(fleet.truth))
		}
		return "right", nil
	})
	assert.Empty(t, queueMessages(t, cfg, terraform.OutputContext(t, t.Context(), options, "dead_letter_queue_url"), 10))
	t.Logf("%d events for %d clients delivered through the pipeline", len(fleet.events), len(fleet.truth))
}
