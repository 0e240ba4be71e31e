//go:build e2e

package test

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrebuiltPackageExample deploys a zip built outside Terraform (package_path), the
// way a stack without a Rust toolchain consumes the module: every function's code is that
// one zip, each with its role as its handler, and the second plan is empty.
func TestPrebuiltPackageExample(t *testing.T) {
	t.Parallel()
	target(t)
	cfg := awsConfig(t)
	root := copyRepo(t)

	artifacts := t.TempDir()
	build := exec.CommandContext(t.Context(), "cargo", "lambda", "build", "--release", "--no-default-features", "--bin", "bootstrap",
		"--x86-64", "--output-format", "zip", "--lambda-dir", artifacts)
	build.Dir = root
	build.Env = os.Environ()
	for key, value := range terraformEnv(t) {
		build.Env = append(build.Env, key+"="+value)
	}
	output, err := build.CombinedOutput()
	require.NoError(t, err, "cargo lambda build: %s", output)
	zip := filepath.Join(artifacts, "bootstrap", "bootstrap.zip")

	options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: filepath.Join(root, "examples", "prebuilt-package"),
		Vars:         map[string]any{"name": uniqueName(), "region": cfg.Region, "package_path": zip},
		NoColor:      true,
	})
	defer terraform.DestroyContext(t, t.Context(), options)
	terraform.InitAndApplyAndIdempotentContext(t, t.Context(), options)

	content, err := os.ReadFile(zip)
	require.NoError(t, err)
	digest := sha256.Sum256(content)
	client := lambda.NewFromConfig(cfg)
	for output, role := range map[string]string{"lambda_function_name": "presence", "notifier_function_name": "notifier"} {
		function, err := client.GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{
			FunctionName: aws.String(terraform.OutputContext(t, t.Context(), options, output)),
		})
		require.NoError(t, err)
		assert.Equal(t, base64.StdEncoding.EncodeToString(digest[:]), aws.ToString(function.CodeSha256), output)
		assert.Equal(t, role, aws.ToString(function.Handler), output)
	}
}
