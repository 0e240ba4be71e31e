variable "name" {
  description = "Prefix of the module's resources (`<name>-pager`, `<name>-pages`, `<name>-pages-dlq`, ...) and the `<deployment>` part of every PagerDuty dedup_key (`<name>/<clientId>`, `<name>/storm/<stormId>`): use the connectivity module's name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,37}$", var.name))
    error_message = "name must start with a letter and hold at most 38 letters, digits and hyphens (AWS allows 64 characters in the function, role and rule names built from it, such as <name>-pager-announcements)."
  }
}

variable "event_bus_name" {
  description = "The EventBridge bus the announcements are put on (the connectivity module's event_bus_name): its name, or its ARN."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^([/.\\-_A-Za-z0-9]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[/.\\-_A-Za-z0-9]{1,256})$", var.event_bus_name))
    error_message = "event_bus_name must be an event bus name (1 to 256 letters, digits, '.', '-', '_' or '/') or an event bus ARN."
  }
}

variable "event_source" {
  description = "The `source` of the announcements: the connectivity module's `event_source` output."
  type        = string

  validation {
    condition     = length(var.event_source) >= 1 && length(var.event_source) <= 256 && !startswith(var.event_source, "aws.")
    error_message = "event_source must be 1 to 256 characters and must not start with \"aws.\" (the connectivity module's event_source output)."
  }
}

variable "routing_key_secret_arn" {
  description = "Full ARN of the Secrets Manager secret holding the PagerDuty integration (routing) key of the default route: its secret string is the 32-character key itself or JSON {\"routing_key\": \"...\"}. Create the secret outside Terraform: the module only references the ARN, so the key is never in Terraform state."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.routing_key_secret_arn))
    error_message = "routing_key_secret_arn must be a Secrets Manager secret's ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX)."
  }
}

variable "routes" {
  description = "Where each device's pages go, first match wins, else the default route (routing_key_secret_arn, severity). Each route matches exactly one of thing_group, thing_type or attribute ({name, value}) of the announcement's detail.thing (the connectivity module's thing_context_enabled), and may set its own routing_key_secret_arn and severity (critical, error, warning or info); unset, they are the default route's."
  type = list(object({
    thing_group            = optional(string)
    thing_type             = optional(string)
    attribute              = optional(object({ name = string, value = string }))
    routing_key_secret_arn = optional(string)
    severity               = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for route in var.routes : length([for matcher in [route.thing_group, route.thing_type, route.attribute] : matcher if matcher != null]) == 1])
    error_message = "Each route must set exactly one of thing_group, thing_type or attribute."
  }

  validation {
    condition     = alltrue([for route in var.routes : try(length(route.thing_group) > 0, true) && try(length(route.thing_type) > 0, true) && try(length(route.attribute.name) > 0, true)])
    error_message = "A route's thing_group, thing_type and attribute name must not be empty."
  }

  validation {
    condition     = alltrue([for route in var.routes : route.severity == null || contains(["critical", "error", "warning", "info"], coalesce(route.severity, "critical"))])
    error_message = "A route's severity must be critical, error, warning or info (PagerDuty's severities)."
  }

  validation {
    condition     = alltrue([for route in var.routes : route.routing_key_secret_arn == null || can(regex("^arn:[^:]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", coalesce(route.routing_key_secret_arn, "-")))])
    error_message = "A route's routing_key_secret_arn must be a Secrets Manager secret's ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX)."
  }
}

variable "severity" {
  description = "Severity of the default route's pages: critical, error, warning or info."
  type        = string
  default     = "critical"

  validation {
    condition     = contains(["critical", "error", "warning", "info"], var.severity)
    error_message = "severity must be critical, error, warning or info (PagerDuty's severities)."
  }
}

variable "events_url" {
  description = "PagerDuty's Events API v2 endpoint. Another one for tests and EU accounts: https://events.eu.pagerduty.com/v2/enqueue."
  type        = string
  default     = "https://events.pagerduty.com/v2/enqueue"

  validation {
    condition     = can(regex("^https?://", var.events_url))
    error_message = "events_url must be an http:// or https:// URL (PagerDuty's is https://events.pagerduty.com/v2/enqueue)."
  }
}

variable "page_maintenance" {
  description = "Page for devices announced under a maintenance window (detail.maintenance). false: their announcements page nobody."
  type        = bool
  default     = false
}

variable "rate_per_minute" {
  description = "At most this many events are sent per minute per routing key; the rest wait their turn. PagerDuty allows about 120 per integration key and answers 429 above it; more than 120 only for an account whose limit PagerDuty raised, or a test receiver."
  type        = number
  default     = 100

  validation {
    condition     = var.rate_per_minute >= 1 && var.rate_per_minute <= 1000 && floor(var.rate_per_minute) == var.rate_per_minute
    error_message = "rate_per_minute must be a whole number from 1 to 1000 (PagerDuty allows about 120 events per minute per integration key)."
  }
}

variable "storm_wait_seconds" {
  description = "How long a device's trigger waits before it is sent, so that a Fleet Connectivity Degraded listing the device can take its place (one page per storm, as Alertmanager's group_wait). 0: sent at once."
  type        = number
  default     = 30

  validation {
    condition     = var.storm_wait_seconds >= 0 && var.storm_wait_seconds <= 600 && floor(var.storm_wait_seconds) == var.storm_wait_seconds
    error_message = "storm_wait_seconds must be a whole number from 0 to 600."
  }
}

variable "lambda_package" {
  description = "The connectivity module's lambda_package output: the deployment package (a local zip, or an S3 object) holding the bootstrap binary, and its architecture."
  type = object({
    filename          = optional(string)
    source_code_hash  = optional(string)
    s3_bucket         = optional(string)
    s3_key            = optional(string)
    s3_object_version = optional(string)
    architecture      = optional(string, "x86_64")
  })

  validation {
    condition     = (var.lambda_package.filename != null) != (var.lambda_package.s3_bucket != null && var.lambda_package.s3_key != null)
    error_message = "lambda_package must name either a local zip (filename) or an S3 object (s3_bucket and s3_key): pass the connectivity module's lambda_package output."
  }

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_package.architecture)
    error_message = "lambda_package.architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be between 128 and 10240 MB (a whole number)."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group, in days (a value CloudWatch Logs accepts; 0 keeps logs forever)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key to encrypt the function's log group. Its key policy must let the CloudWatch Logs service principal of the region use it, or creating the log group fails. null: CloudWatch Logs' default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "log_level" {
  description = "Application log level of the function (its JSON logs): TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  }
}

variable "secret_kms_key_arns" {
  description = "ARNs of the customer managed KMS keys that encrypt the routing key secrets; the function is granted kms:Decrypt on them through Secrets Manager. Empty: the secrets use the AWS managed key aws/secretsmanager, which needs no grant."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.secret_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", arn))])
    error_message = "secret_kms_key_arns must be KMS key ARNs (arn:aws:kms:REGION:ACCOUNT:key/ID; IAM does not match aliases)."
  }
}

variable "alarm_actions" {
  description = "Actions (SNS topic ARNs, or any alarm action) of the alarm on the dead-letter queue. Empty: the alarm only changes state."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
