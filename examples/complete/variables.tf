variable "name" {
  description = "Prefix of every resource; unique per deployment (the tests use a random one)."
  type        = string
  default     = "iot-connectivity"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
  default     = "x86_64"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
