//go:build e2e

package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	registryNamespace = "example-org"
	registryModule    = "iot-device-connectivity"
)

// TestConsumerPinsRegistryVersion consumes the module the way platform teams do, through
// a module registry with a version constraint. The release steps of docs/releasing.md run on a
// clone of the committed repository (tools/release.py: a fix, then a feature, each
// released from its conventional commit and CHANGELOG entry), a registry speaking
// Terraform's Module Registry Protocol serves the tags over HTTPS with a throwaway CA,
// and callers resolve the constraints: "~> 0.1.0" gets v0.1.1 and applies and destroys
// cleanly, "~> 0.2" and "~> 0.1" get v0.2.0.
func TestConsumerPinsRegistryVersion(t *testing.T) {
	t.Parallel()
	target(t)
	cfg := awsConfig(t)

	clone := releasedClone(t)
	registry := newModuleRegistry(t, clone, []string{"v0.1.0", "v0.1.1", "v0.2.0"})

	name := uniqueName()
	stack := callerStack(t, registry.source(), "~> 0.1.0", `
  name       = "`+name+`"
  table_name = "`+name+`-DeviceConnectivity"
`)
	options := terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: stack,
		EnvVars:      registry.terraformEnv(t),
		NoColor:      true,
	})
	defer terraform.DestroyContext(t, t.Context(), options)
	terraform.InitAndApplyAndIdempotentContext(t, t.Context(), options)
	assert.Equal(t, "0.1.1", installedVersion(t, stack))
	assert.Contains(t, registry.downloads(), "v0.1.1")

	table := terraform.OutputContext(t, t.Context(), options, "dynamodb_table_name")
	_, err := dynamodb.NewFromConfig(cfg).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)

	// "~> 0.1" allows any 0.x from 0.1 on: Terraform's pessimistic operator pins only the
	// last component given, so a caller wanting patches only writes "~> 0.1.0".
	for constraint, want := range map[string]string{"~> 0.2": "0.2.0", "~> 0.1": "0.2.0"} {
		other := callerStack(t, registry.source(), constraint, `  name = "`+uniqueName()+`"`)
		terraform.InitContext(t, t.Context(), &terraform.Options{TerraformDir: other, EnvVars: registry.terraformEnv(t), NoColor: true})
		assert.Equal(t, want, installedVersion(t, other), "version installed for %q", constraint)
	}
}

// releasedClone is a clone of the committed repository with three releases made by
// tools/release.py: v0.1.0 from the history as it is, v0.1.1 after a fix, v0.2.0 after a
// feature.
func releasedClone(t *testing.T) string {
	t.Helper()
	clone := filepath.Join(t.TempDir(), "module")
	run := func(name string, args ...string) {
		command := exec.CommandContext(t.Context(), name, args...)
		command.Dir = clone
		output, err := command.CombinedOutput()
		require.NoError(t, err, "%s %v: %s", name, args, output)
	}
	require.NoError(t, exec.CommandContext(t.Context(), "git", "clone", "--quiet", repoRoot(t), clone).Run())
	run("git", "config", "user.name", "release test")
	run("git", "config", "user.email", "release-test@example.com")
	// The clone's own tags would be the maintainers' releases; the test makes its own.
	run("sh", "-c", "git tag | xargs -r git tag -d")

	change := func(message, section, entry string) {
		changelog := filepath.Join(clone, "CHANGELOG.md")
		text, err := os.ReadFile(changelog)
		require.NoError(t, err)
		updated := strings.Replace(string(text), "## [Unreleased]\n", "## [Unreleased]\n\n### "+section+"\n- "+entry+"\n", 1)
		require.NoError(t, os.WriteFile(changelog, []byte(updated), 0o644))
		run("git", "commit", "--quiet", "-am", message)
	}
	release := func(want string) {
		run("python3", "tools/release.py", "release", "--date", time.Now().UTC().Format(time.DateOnly))
		run("git", "rev-parse", "--verify", "--quiet", want)
	}
	release("v0.1.0")
	change("fix: a patch release for the registry test", "Fixed", "A fix.")
	release("v0.1.1")
	change("feat: a minor release for the registry test", "Added", "A feature.")
	release("v0.2.0")
	return clone
}

// moduleRegistry serves git tags of a clone through the Module Registry Protocol:
// service discovery, the versions list and download redirects to tar.gz archives.
type moduleRegistry struct {
	host   string // host:port, the first part of the caller's source address
	caFile string // the CA bundle Terraform must trust for this registry

	mu      sync.Mutex
	fetched []string
}

func newModuleRegistry(t *testing.T, clone string, tags []string) *moduleRegistry {
	t.Helper()
	archives := t.TempDir()
	for _, tag := range tags {
		path := filepath.Join(archives, tag+".tar.gz")
		output, err := exec.CommandContext(t.Context(), "git", "-C", clone, "archive", "--format=tar.gz", "--output", path, tag).CombinedOutput()
		require.NoError(t, err, "git archive %s: %s", tag, output)
	}

	ca, leaf := throwawayCertificates(t)
	registry := &moduleRegistry{caFile: filepath.Join(t.TempDir(), "ca-bundle.pem")}
	// Terraform reads SSL_CERT_FILE instead of the system bundle; keep the system's CAs
	// in it so the provider still reaches real AWS endpoints.
	bundle := ca
	if system, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		bundle = append(system, ca...)
	}
	require.NoError(t, os.WriteFile(registry.caFile, bundle, 0o644))

	prefix := fmt.Sprintf("/v1/modules/%s/%s/aws/", registryNamespace, registryModule)
	download := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `(\d+\.\d+\.\d+)/download$`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/terraform.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"modules.v1": "/v1/modules/"})
	})
	mux.HandleFunc("GET "+prefix+"versions", func(w http.ResponseWriter, _ *http.Request) {
		versions := []map[string]string{}
		for _, tag := range tags {
			versions = append(versions, map[string]string{"version": strings.TrimPrefix(tag, "v")})
		}
		writeJSON(w, map[string]any{"modules": []any{map[string]any{"versions": versions}}})
	})
	mux.HandleFunc("GET "+prefix, func(w http.ResponseWriter, r *http.Request) {
		match := download.FindStringSubmatch(r.URL.Path)
		if match == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Terraform-Get", "https://"+registry.host+"/archives/v"+match[1]+".tar.gz")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /archives/{archive}", func(w http.ResponseWriter, r *http.Request) {
		archive := r.PathValue("archive")
		registry.mu.Lock()
		registry.fetched = append(registry.fetched, strings.TrimSuffix(archive, ".tar.gz"))
		registry.mu.Unlock()
		http.ServeFile(w, r, filepath.Join(archives, filepath.Base(archive)))
	})

	server := httptest.NewUnstartedServer(mux)
	server.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}
	server.StartTLS()
	t.Cleanup(server.Close)
	_, port, err := net.SplitHostPort(server.Listener.Addr().String())
	require.NoError(t, err)
	// Registry hostnames must contain a dot, which rules out "localhost".
	registry.host = "127.0.0.1:" + port
	return registry
}

func (r *moduleRegistry) terraformEnv(t *testing.T) map[string]string {
	env := terraformEnv(t)
	env["SSL_CERT_FILE"] = r.caFile
	return env
}

// source is the module's registry address.
func (r *moduleRegistry) source() string {
	return r.host + "/" + registryNamespace + "/" + registryModule + "/aws"
}

func (r *moduleRegistry) downloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.fetched...)
}

// throwawayCertificates makes a CA for this test alone and a localhost certificate it
// signed; it returns the CA as PEM and the server's certificate.
func throwawayCertificates(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "module registry test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leafTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, caCert, &leafKey.PublicKey, caKey)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
}

// callerStack is a root module calling the module from source (with a version
// constraint when given) and passing its outputs on.
func callerStack(t *testing.T, source, constraint, inputs string) string {
	t.Helper()
	version := ""
	if constraint != "" {
		version = "  version = \"" + constraint + "\"\n"
	}
	stack := t.TempDir()
	main := `
provider "aws" {}

module "connectivity" {
  source  = "` + source + `"
` + version + inputs + `
}
`
	for _, output := range []string{"dynamodb_table_name", "lambda_function_name", "dead_letter_queue_url"} {
		main += "\noutput \"" + output + "\" {\n  value = module.connectivity." + output + "\n}\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(stack, "main.tf"), []byte(main), 0o644))
	return stack
}

// installedVersion is the module version terraform init recorded for the caller.
func installedVersion(t *testing.T, stack string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(stack, ".terraform", "modules", "modules.json"))
	require.NoError(t, err)
	var manifest struct {
		Modules []struct{ Key, Version string }
	}
	require.NoError(t, json.Unmarshal(raw, &manifest))
	for _, module := range manifest.Modules {
		if module.Key == "connectivity" {
			return module.Version
		}
	}
	t.Fatalf("modules.json has no module connectivity: %s", raw)
	return ""
}

func writeJSON(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
