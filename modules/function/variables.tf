variable "function_name" {
  description = "The function's name, also its role's and (under /aws/lambda/) its log group's."
  type        = string
}

variable "description" {
  description = "The function's description (cut at Lambda's 256 characters)."
  type        = string
}

variable "handler" {
  description = "The role of the bootstrap package the function runs: presence, notifier, counter or view."
  type        = string
}

variable "role_policy_name" {
  description = "Name of the role's inline policy."
  type        = string
}

variable "policy" {
  description = "The role's inline policy (JSON), its own log group's statement included."
  type        = string
}

variable "timeout" {
  description = "Seconds an invocation may run."
  type        = number
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1: none."
  type        = number
  default     = -1
}

variable "environment" {
  description = "The function's environment variables."
  type        = map(string)
}

variable "common" {
  description = "What every function of the module shares: the package (a local zip, or an S3 object), architecture, memory, log group retention and key, Lambda's log level filters, the role's trust policy and the tags."
  type = object({
    package = object({
      filename          = optional(string)
      source_code_hash  = optional(string)
      s3_bucket         = optional(string)
      s3_key            = optional(string)
      s3_object_version = optional(string)
    })
    architecture          = string
    memory_size           = number
    log_retention_in_days = number
    log_kms_key_arn       = optional(string)
    log_level             = string
    system_log_level      = string
    assume_role_policy    = string
    tags                  = map(string)
  })
}
