//go:build e2e

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// previousRelease is the module as it last landed before each function moved into
// modules/function (UPGRADE_FROM names another commit).
const previousRelease = "ea5a678"

// TestUpgradeFromThePreviousRelease applies the previous release with every pipeline on,
// then plans the same stack with this tree: the moved blocks carry every function, role,
// policy and log group to its new address, so the upgrade creates and destroys nothing
// (the functions' code, and the settings this release changes, are updated in place).
func TestUpgradeFromThePreviousRelease(t *testing.T) {
	t.Parallel()
	target(t)
	from := os.Getenv("UPGRADE_FROM")
	if from == "" {
		from = previousRelease
	}
	old := filepath.Join(t.TempDir(), "previous")
	require.NoError(t, os.MkdirAll(old, 0o755))
	archive := exec.CommandContext(t.Context(), "sh", "-c", "git -C \"$1\" archive \"$2\" | tar -x -C \"$3\"", "sh", repoRoot(t), from, old)
	output, err := archive.CombinedOutput()
	require.NoError(t, err, "the previous release from git: %s", output)

	name := uniqueName()
	stack := t.TempDir()
	write := func(source string) {
		main := `
provider "aws" {}

module "connectivity" {
  source = "` + source + `"

  name                             = "` + name + `"
  table_name                       = "` + name + `-DeviceConnectivity"
  events_enabled                   = true
  status_index_enabled             = true
  history_enabled                  = true
  metrics_enabled                  = true
  connected_devices_metric_enabled = true
  # Every deployment's topic rule hears every test's lifecycle events: its own source keeps
  # its announcements out of the other tests' consumers.
  event_source = "test.upgrade.` + name + `"
}
`
		require.NoError(t, os.WriteFile(filepath.Join(stack, "main.tf"), []byte(main), 0o644))
	}
	options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: stack,
		EnvVars:      terraformEnv(t),
		NoColor:      true,
	})
	write(old)
	defer terraform.DestroyContext(t, t.Context(), options)
	terraform.InitAndApplyContext(t, t.Context(), options)

	write(copyRepo(t))
	terraform.InitContext(t, t.Context(), options)
	planOptions := *options
	planOptions.PlanFilePath = filepath.Join(t.TempDir(), "upgrade.tfplan")
	terraform.PlanContext(t, t.Context(), &planOptions)
	plan := terraform.ShowWithStructContext(t, t.Context(), &planOptions)

	moved := map[string]bool{}
	for address, change := range plan.ResourceChangesMap {
		if strings.HasSuffix(address, "terraform_data.build[0]") {
			continue // the package is rebuilt from the new source: no AWS resource
		}
		actions := strings.Join(actionNames(change.Change.Actions), ",")
		assert.NotContains(t, actions, "delete", "%s is destroyed by the upgrade (%s)", address, actions)
		assert.NotContains(t, actions, "create", "%s is created by the upgrade (%s)", address, actions)
		if change.PreviousAddress != "" {
			moved[change.PreviousAddress] = true
		}
	}
	for _, function := range []string{"function", "notifier[0]", "counter[0]"} {
		lambda := map[string]string{"function": "this"}[function]
		if lambda == "" {
			lambda = function
		}
		role := function
		assert.True(t, moved["module.connectivity.aws_lambda_function."+lambda], "the %s function moved in state", function)
		assert.True(t, moved["module.connectivity.aws_iam_role."+role], "the %s role moved in state", function)
		assert.True(t, moved["module.connectivity.aws_cloudwatch_log_group."+role], "the %s log group moved in state", function)
	}

	// The upgraded stack applies, and then plans empty.
	terraform.ApplyAndIdempotentContext(t, t.Context(), options)
}
