//go:build e2e

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/require"
)

// TestConsumerPinsReleaseTag is a caller's stack that pins the module by a git tag, the
// way a platform team consumes a release: from a clone of the committed repository,
// tagged, referenced as git::file://...?ref=TAG. It must apply and destroy cleanly.
func TestConsumerPinsReleaseTag(t *testing.T) {
	t.Parallel()
	target(t)
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
	stack := t.TempDir()
	main := `
provider "aws" {}

module "connectivity" {
  source = "git::file://` + release + `?ref=` + tag + `"

  name       = "` + name + `"
  table_name = "` + name + `-DeviceConnectivity"
}

output "dynamodb_table_name" {
  value = module.connectivity.dynamodb_table_name
}
`
	require.NoError(t, os.WriteFile(filepath.Join(stack, "main.tf"), []byte(main), 0o644))

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
}
