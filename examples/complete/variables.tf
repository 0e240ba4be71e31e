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

variable "disconnect_grace_period_seconds" {
  description = "How long a device must stay disconnected before it is announced offline (the demo and tests use a few seconds)."
  type        = number
  default     = 60
}


variable "storm_digest" {
  description = "A mass outage: at least threshold devices of the fleet announced Disconnected within window_seconds (the module's input of the same name; null: off)."
  type = object({
    threshold      = number
    window_seconds = number
    group_by       = string
  })
  default = { threshold = 100, window_seconds = 300, group_by = "fleet" }
}
