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
