variable "name" {
  description = "Prefix of every resource."
  type        = string
  default     = "iot-connectivity"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "architecture" {
  description = "Instruction set the zip was built for: x86_64 (cargo lambda build --x86-64) or arm64 (cargo lambda build --arm64). A mismatch fails only at the first invocation (Runtime.InvalidEntrypoint)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "package_path" {
  description = "A zip holding `bootstrap`, e.g. from `cargo lambda build --release --no-default-features --output-format zip --bin bootstrap`."
  type        = string
  default     = "bootstrap.zip"
}

variable "s3_bucket" {
  description = "Bucket of a zip in S3, used instead of package_path when set."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "Key of the zip in s3_bucket."
  type        = string
  default     = "iot-device-connectivity/bootstrap.zip"
}
