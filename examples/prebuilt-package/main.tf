# The module as a stack without a Rust toolchain consumes it (Terraform Cloud workers,
# locked-down CI): deploying a zip built elsewhere, from disk or from S3.

provider "aws" {
  region = var.region
}

module "device_connectivity" {
  source = "../.."

  name       = var.name
  table_name = "${var.name}-DeviceConnectivity"

  # Must match the zip: `cargo lambda build --release --no-default-features --bin bootstrap --output-format zip`
  # with --x86-64 for x86_64, --arm64 for arm64.
  architecture = var.architecture

  # Exactly one of the two. The one zip serves every function the module creates.
  package_path = var.s3_bucket == null ? var.package_path : null
  s3_package   = var.s3_bucket == null ? null : { bucket = var.s3_bucket, key = var.s3_key }

  events_enabled = true
}
