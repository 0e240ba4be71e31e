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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "disconnect_grace_period_seconds" {
  description = "How long a device must stay disconnected before it is announced offline (the demo and tests use a few seconds)."
  type        = number
  default     = 60
}
