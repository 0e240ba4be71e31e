#!/usr/bin/env bash
# The static checks, one per name; with no name, all of them in order. scripts/test.sh
# runs them all, .pre-commit-config.yaml one per hook.
#
#   scripts/lint.sh [rust] [layers] [terraform] [tflint] [registry] [docs] [go] [checkov]
set -euo pipefail
export NEED_GO=1
source "$(dirname "$0")/setup.sh"
cd "$ROOT"

section() { printf '\n== %s\n' "$*"; }

rust() {
  section "Rust: format and lints"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --locked -- -D warnings
}

layers() {
  section "Rust: the pipeline folders import downward only (no cycle; shared uses no pipeline)"
  python tools/layers.py
}

terraform_checks() {
  section "Terraform: format and validate the module and every example"
  terraform fmt -check -recursive -diff
  for dir in . examples/*/; do
    (cd "$dir" && terraform init -backend=false -input=false >/dev/null && terraform validate -no-color)
  done
}

tflint_checks() {
  section "Terraform: tflint (Terraform ruleset, preset all) on the module and its examples"
  tflint --config "$ROOT/.tflint.hcl" --recursive --format compact
}

registry() {
  section "Registry: module structure, examples' READMEs, CHANGELOG and release tags"
  python tools/release.py check
}

docs() {
  section "Docs: inputs and outputs tables match variables.tf and outputs.tf; every relative link and anchor resolves"
  python tools/tfdocs.py --check
  python tools/doclinks.py
}

go_checks() {
  section "Go: format and vet"
  local unformatted
  unformatted="$(cd test && gofmt -l .)"
  [[ -z "$unformatted" ]] || { echo "gofmt would change: $unformatted" >&2; exit 1; }
  (cd test && go vet -tags plan,e2e ./...)
}

checkov_checks() {
  section "Static analysis: checkov"
  scripts/checkov.sh
}

checks=("$@")
[[ ${#checks[@]} -gt 0 ]] || checks=(rust layers terraform tflint registry docs go checkov)
for check in "${checks[@]}"; do
  case "$check" in
    rust) rust ;;
    layers) layers ;;
    terraform) terraform_checks ;;
    tflint) tflint_checks ;;
    registry) registry ;;
    docs) docs ;;
    go) go_checks ;;
    checkov) checkov_checks ;;
    *) echo "lint: unknown check '$check'" >&2; exit 2 ;;
  esac
done
