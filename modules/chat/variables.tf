variable "name" {
  description = "Prefix of the module's resources: the topic `<name>-chat`, the rules `<name>-chat-<notification>` and, without kms_master_key_id, the key alias `alias/<name>-chat`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,45}$", var.name))
    error_message = "name must start with a letter and hold at most 46 letters, digits and hyphens (AWS allows 64 characters in the rule names built from it)."
  }
}

variable "event_source" {
  description = "The `source` of the announcements: the root module's `event_source` output (its `event_source` input, default iot.device-connectivity)."
  type        = string

  validation {
    condition     = length(var.event_source) >= 1 && length(var.event_source) <= 256 && !startswith(var.event_source, "aws.")
    error_message = "event_source must be 1 to 256 characters and must not start with \"aws.\" (the root module's event_source output)."
  }
}

variable "event_bus_name" {
  description = "The EventBridge bus the announcements are put on (the root module's event_bus_name): its name, or its ARN."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^([/.\\-_A-Za-z0-9]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[/.\\-_A-Za-z0-9]{1,256})$", var.event_bus_name))
    error_message = "event_bus_name must be an event bus name (1 to 256 letters, digits, '.', '-', '_' or '/') or an event bus ARN."
  }
}

variable "kms_master_key_id" {
  description = "The customer managed KMS key (ID, ARN or alias) that encrypts the topic. Its key policy must allow events.amazonaws.com kms:GenerateDataKey and kms:Decrypt. null: the module creates such a key (about $1 a month). The AWS managed key alias/aws/sns is refused: EventBridge cannot publish to a topic encrypted with it."
  type        = string
  default     = null

  validation {
    condition     = try(length(var.kms_master_key_id) > 0 && !endswith(var.kms_master_key_id, "alias/aws/sns"), var.kms_master_key_id == null)
    error_message = "kms_master_key_id must be a customer managed key: EventBridge cannot publish to a topic encrypted with the AWS managed key alias/aws/sns (its key policy cannot allow events.amazonaws.com)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
