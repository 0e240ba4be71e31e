# tflint with the Terraform language ruleset (bundled with tflint) at its strictest
# preset: documented and typed variables and outputs, standard module structure,
# required_version and required_providers pinned, naming, no unused declarations,
# no deprecated syntax. scripts/test.sh and .pre-commit-config.yaml run it on the
# module and every example (`tflint --recursive`).
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
