//go:build plan || e2e

package test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/gruntwork-io/terratest/modules/files"
	"github.com/gruntwork-io/terratest/modules/random"
)

// Where the tests run: the emulator when AWS_ENDPOINT_URL is set (scripts/test.sh sets
// it), a real account when credentials resolve, otherwise the test is skipped.
const (
	targetEmulator = "emulator"
	targetAWS      = "aws"
)

func target(t *testing.T) string {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		return targetEmulator
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err == nil {
		if _, err = cfg.Credentials.Retrieve(context.Background()); err == nil && cfg.Region != "" {
			return targetAWS
		}
	}
	const why = "no AWS target: set AWS_ENDPOINT_URL to an emulator (scripts/test.sh starts one) " +
		"or provide AWS credentials and AWS_REGION to run against a real account"
	if os.Getenv("REQUIRE_AWS_TARGET") != "" {
		t.Fatal(why) // the test command must never pass by skipping
	}
	t.Skip(why)
	return ""
}

// awsConfig is aimed by the standard environment at the same API Terraform uses:
// aws-sdk-go-v2 honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> itself.
func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return cfg
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test sources")
	}
	return filepath.Dir(filepath.Dir(file))
}

// copyRepo copies the module (not its build output, tools or tests) to a fresh temp
// folder, so parallel tests never share a working directory or state, and returns the
// copy's root.
func copyRepo(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	skip := map[string]bool{".git": true, ".tools": true, "target": true, "builds": true, "test": true, ".terraform": true}
	dest, err := files.CopyFolderToTemp(root, "iot-connectivity-", func(path string) bool {
		return !skip[filepath.Base(path)] && !files.PathContainsTerraformState(path)
	})
	if err != nil {
		t.Fatalf("copy repository: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(dest)) })
	return dest
}

// uniqueName is a resource prefix no other run shares.
func uniqueName() string {
	return "t" + strings.ToLower(random.UniqueID())
}

// terraformEnv shares the repository's cargo target folder with the copies, so a copy
// rebuilds only the crate itself, not its dependencies.
func terraformEnv(t *testing.T) map[string]string {
	env := map[string]string{}
	if os.Getenv("CARGO_TARGET_DIR") == "" {
		env["CARGO_TARGET_DIR"] = filepath.Join(repoRoot(t), "target")
	}
	return env
}
