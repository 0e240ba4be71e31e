# Only what the module requires: every input at its default. The module builds the
# handler with cargo-lambda at apply (Rust and cargo-lambda on the machine running
# Terraform); use examples/prebuilt-package where that is not possible.

provider "aws" {
  region = var.region
}

module "device_connectivity" {
  source = "../.."

  name = var.name
}
