variable "name" {
  description = "Prefix for every resource of the deployment."
  type        = string
  default     = "routing"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "disconnect_grace_period_seconds" {
  description = "Grace period of devices no override matches."
  type        = number
  default     = 60
}

variable "disconnect_grace_period_overrides" {
  description = "Grace periods per device class (the module's input of the same name)."
  type = list(object({
    thing_group = optional(string)
    thing_type  = optional(string)
    attribute   = optional(object({ name = string, value = string }))
    seconds     = number
  }))
  default = [{ thing_type = "battery-sensor", seconds = 900 }]
}

variable "storm_digest" {
  description = "When a site goes dark: at least threshold devices of one thing group announced Disconnected within window_seconds."
  type = object({
    threshold      = number
    window_seconds = number
    group_by       = string
  })
  default = { threshold = 50, window_seconds = 300, group_by = "thing_group" }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
