#!/usr/bin/env bash
# Installs what the project's commands need into .tools/ (idempotent, fast when done):
#   - a Python virtual environment with cargo-lambda (and its zig) and the moto emulator,
#   - a Terraform CLI config that uses a local provider mirror when the machine has one,
#   - the Go modules of the Terratest suite, tflint (built from the Go module proxy) and
#     Debian's chromium (the e2e tier renders the availability report in it).
# Source it (". scripts/setup.sh") to also get PATH and TF_CLI_CONFIG_FILE exported.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export ROOT TOOLS
mkdir -p "$TOOLS"

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "setup: '$1' is required but not on PATH. $2" >&2
    exit 1
  }
}
need terraform "Install Terraform >= 1.5.7 (https://developer.hashicorp.com/terraform/install)."
need cargo "Install Rust with rustup (https://rustup.rs)."
need python3 "Install Python >= 3.9."

# The module declares required_version >= 1.5.7; say so before Terraform does it obscurely.
terraform_version="$(terraform version 2>/dev/null | sed -n '1s/^Terraform v//p')"
if [[ "$(printf '%s\n' 1.5.7 "$terraform_version" | sort -V | head -n1)" != 1.5.7 ]]; then
  echo "setup: Terraform $terraform_version is too old; install Terraform >= 1.5.7." >&2
  exit 1
fi

# Python tools, reinstalled only when tools/requirements.txt changes.
stamp="$TOOLS/venv/.requirements.sha256"
want="$(sha256sum "$ROOT/tools/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$TOOLS/venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "setup: installing cargo-lambda and moto into .tools/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/tools/requirements.txt"
  echo "$want" >"$stamp"
fi
export PATH="$TOOLS/venv/bin:$PATH"

# Terraform: providers from a filesystem mirror when the machine carries one (offline
# machines), from the public registry otherwise. Only the project's own commands use
# this file; the caller's own CLI config is left alone.
# No plugin cache: parallel inits race on a shared one (terraform #31964), and an
# unpacked mirror is linked, not copied, anyway.
export TF_CLI_CONFIG_FILE="$TOOLS/terraformrc"
mirror="${TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
if [[ -d "$mirror/registry.terraform.io" ]]; then
  cat >"$TF_CLI_CONFIG_FILE" <<TFRC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/*/*"]
  }
}
TFRC
else
  : >"$TF_CLI_CONFIG_FILE"
fi

# Go modules for the Terratest suite (the compile itself happens in go test). The demo
# does not need Go; the test command does.
if [[ "${NEED_GO:-}" == 1 ]]; then
  need go "Install Go >= 1.26 (the Terratest suite needs it)."
  (cd "$ROOT/test" && go mod download)

  # tflint from source: the module proxy is reachable where release downloads are not.
  # Its Terraform ruleset is bundled, so `tflint --init` and plugin downloads are not needed.
  tflint_version=v0.64.0
  if [[ "$("$TOOLS/bin/tflint" --version 2>/dev/null | sed -n '1s/^TFLint version /v/p')" != "$tflint_version" ]]; then
    echo "setup: building tflint $tflint_version into .tools/bin"
    GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/terraform-linters/tflint@$tflint_version"
  fi
  export PATH="$TOOLS/bin:$PATH"

  # A headless browser for the e2e check of the availability report (Debian's chromium).
  if ! command -v chromium >/dev/null 2>&1; then
    echo "setup: installing chromium (the availability report is checked in a real browser)"
    if [[ "$(id -u)" == 0 ]]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    "${apt_get[@]}" install -y -q chromium >"$TOOLS/chromium-install.log" 2>&1 || {
      "${apt_get[@]}" update -q >>"$TOOLS/chromium-install.log" 2>&1
      "${apt_get[@]}" install -y -q chromium >>"$TOOLS/chromium-install.log" 2>&1
    } || { echo "setup: could not install chromium; see $TOOLS/chromium-install.log" >&2; exit 1; }
  fi
fi
