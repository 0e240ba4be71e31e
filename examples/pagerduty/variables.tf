variable "name" {
  description = "Prefix of every resource and the <deployment> part of the PagerDuty dedup keys; unique per deployment (the tests use a random one)."
  type        = string
  default     = "iot-pagerduty"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "routing_key_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the PagerDuty integration (routing) key: the key itself or JSON {\"routing_key\": \"...\"}. Create the secret outside Terraform so the key never lands in state."
  type        = string
}

variable "events_url" {
  description = "PagerDuty's Events API v2 endpoint (https://events.eu.pagerduty.com/v2/enqueue for EU accounts; the tests use tools/pagerduty_receiver.py)."
  type        = string
  default     = "https://events.pagerduty.com/v2/enqueue"
}

variable "rate_per_minute" {
  description = "At most this many PagerDuty events per minute per routing key (PagerDuty allows about 120)."
  type        = number
  default     = 100
}

variable "storm_wait_seconds" {
  description = "How long a device's trigger waits, so that a Fleet Connectivity Degraded listing it can take its place."
  type        = number
  default     = 30
}

variable "storm_digest" {
  description = "When a site goes dark: at least threshold devices of one thing group announced Disconnected within window_seconds are one storm, paged once."
  type = object({
    threshold      = number
    window_seconds = number
    group_by       = string
  })
  default = { threshold = 50, window_seconds = 300, group_by = "thing_group" }
}

variable "disconnect_grace_period_seconds" {
  description = "How long a device must stay disconnected before it is announced offline (the tests use a few seconds)."
  type        = number
  default     = 60
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
