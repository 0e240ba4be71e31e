variable "name" {
  description = "Prefix for every resource the module creates (function, role, queue, rule), so several instances fit one account and region."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,37}$", var.name))
    error_message = "name must start with a letter and hold at most 38 letters, digits and hyphens (at most 36 with connected_devices_metric_enabled, 34 with events_enabled: AWS allows 64 characters in the function, role and rule names built from it)."
  }
}

variable "tags" {
  description = "Tags applied to every resource the module creates."
  type        = map(string)
  default     = {}
}

# --- DynamoDB ---------------------------------------------------------------

variable "table_name" {
  description = "Name of the DynamoDB table holding one item per MQTT client ID. The default is the original sample's; a second instance in one account needs another."
  type        = string
  default     = "DeviceConnectivity"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "billing_mode" {
  description = "PAY_PER_REQUEST (on demand) or PROVISIONED."
  type        = string
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.billing_mode)
    error_message = "billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "provisioned_capacity" {
  description = "Read and write capacity units of the table (and of the status index), used only with billing_mode = PROVISIONED."
  type = object({
    read  = number
    write = number
  })
  default = { read = 5, write = 5 }

  validation {
    condition     = var.provisioned_capacity.read >= 1 && var.provisioned_capacity.write >= 1 && floor(var.provisioned_capacity.read) == var.provisioned_capacity.read && floor(var.provisioned_capacity.write) == var.provisioned_capacity.write
    error_message = "provisioned_capacity read and write must be at least 1 (whole numbers)."
  }
}

variable "point_in_time_recovery_enabled" {
  description = "Continuous backups (point-in-time recovery) of the table."
  type        = bool
  default     = true
}

variable "table_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the table's server-side encryption (its key policy must let DynamoDB use it). null: DynamoDB's AWS owned key, at no KMS cost."
  type        = string
  default     = null

  validation {
    condition     = var.table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.table_kms_key_arn))
    error_message = "table_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "deletion_protection_enabled" {
  description = "Refuse to delete the table (also on terraform destroy). Recommended for production."
  type        = bool
  default     = false
}

variable "status_index_enabled" {
  description = "Add a global secondary index to list the devices that are Connected or Disconnected without a scan. Its key is StatusShard (\"<Status>#<shard>\", status_index_shards ways), so a reconnect storm spreads over that many index partitions instead of one."
  type        = bool
  default     = false
}

variable "status_index_shards" {
  description = "Ways the status index key is split: a client's shard is the first 8 bytes of SHA-256(ClientID), big-endian, modulo this. Each shard key takes at most 1,000 index writes per second, and a device that drops and returns writes each of its two keys twice, so a storm of R devices per second needs at least R/500 shards (the default covers 32,000 devices per second). Readers query every shard (the connectivity CLI does). Raise it freely; lowering it hides items whose shard is no longer queried until their next presence event."
  type        = number
  default     = 64

  validation {
    condition     = var.status_index_shards >= 1 && var.status_index_shards <= 1024 && floor(var.status_index_shards) == var.status_index_shards
    error_message = "status_index_shards must be a whole number from 1 to 1024."
  }
}

variable "item_ttl_days" {
  description = "Delete the item of a client that has been disconnected, with no lifecycle event, for this many days (DynamoDB TTL on ExpiresAt; a connected client never expires). null: keep items forever."
  type        = number
  default     = null

  validation {
    condition     = var.item_ttl_days == null ? true : var.item_ttl_days >= 1 && floor(var.item_ttl_days) == var.item_ttl_days
    error_message = "item_ttl_days must be a whole number of days, at least 1, or null."
  }
}

variable "stream_view_type" {
  description = "Enable a DynamoDB stream of status changes with this view type (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES). null: no stream."
  type        = string
  default     = null

  validation {
    condition     = var.stream_view_type == null ? true : contains(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"], var.stream_view_type)
    error_message = "stream_view_type must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES or null."
  }
}

# --- Lambda -----------------------------------------------------------------

variable "architecture" {
  description = "Instruction set of the function: x86_64 or arm64 (building arm64 needs the aarch64-unknown-linux-gnu Rust target)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "package_path" {
  description = "Path to a prebuilt deployment zip (holding `bootstrap`, built with `cargo lambda build --release --no-default-features --bin bootstrap --output-format zip`) to deploy to every function instead of building function/ with cargo-lambda. For callers without a Rust toolchain."
  type        = string
  default     = null
}

variable "s3_package" {
  description = "A prebuilt deployment zip in S3 (holding `bootstrap`) to deploy to every function instead of building function/ (bucket, key, optional object version)."
  type = object({
    bucket         = string
    key            = string
    object_version = optional(string)
  })
  default = null
}

variable "memory_size" {
  description = "Memory of the function in MB (128 is plenty: one event per invocation)."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be between 128 and 10240 MB (a whole number)."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. Covers the SDK's own retries of throttled DynamoDB writes."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be between 1 and 900 seconds (a whole number)."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function. null: unreserved (the account pool). Lambda refuses a reservation that leaves the account fewer than 100 unreserved executions, so new accounts with a low concurrency quota reject most values."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null ? true : var.reserved_concurrent_executions >= 0 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be 0 or more, or null (a whole number)."
  }
}

variable "ignored_client_id_prefixes" {
  description = "Client IDs starting with any of these are skipped (the original sample hard-coded \"iotconsole\", the AWS console's test client)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for prefix in var.ignored_client_id_prefixes : prefix != "" && !strcontains(prefix, ",")])
    error_message = "ignored_client_id_prefixes must be non-empty strings without commas."
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

variable "system_log_level" {
  description = "Level of Lambda's own log lines (DEBUG, INFO or WARN). INFO keeps the START and REPORT lines with duration, memory and init duration; WARN drops them."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level must be DEBUG, INFO or WARN."
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
  description = "ARN of a KMS key to encrypt the function's log group. Its key policy must let the CloudWatch Logs service principal of the region use it (docs/security.md), or creating the log group fails. null: CloudWatch Logs' default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "maximum_retry_attempts" {
  description = "Times Lambda retries a failed asynchronous invocation (0-2) before sending the event to the failure destination."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be 0, 1 or 2 (a whole number)."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "Age after which Lambda stops retrying an event and sends it to the failure destination (60-21600)."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600 && floor(var.maximum_event_age_in_seconds) == var.maximum_event_age_in_seconds
    error_message = "maximum_event_age_in_seconds must be between 60 and 21600 (a whole number)."
  }
}

# --- Topic rule and failures ------------------------------------------------

variable "record_unknown_connect_failures" {
  description = "Record connect_failed events of client IDs the table does not know. Off by default: unauthenticated clients choose their client ID, so each failed attempt could add an item."
  type        = bool
  default     = false
}

variable "include_subscription_events" {
  description = "Also send subscribe/unsubscribe lifecycle events to the function (they never change Status; the function logs and skips them)."
  type        = bool
  default     = false
}

variable "rule_enabled" {
  description = "Whether the IoT topic rule is enabled."
  type        = bool
  default     = true
}

variable "dead_letter_queue" {
  description = "An existing standard SQS queue to keep events that could not be delivered or stored (rule error action and the function's on-failure destination), with the customer managed KMS key it is encrypted with, if any (both senders are granted it). FIFO queues are refused: neither sender supports them. null: the module creates one."
  type = object({
    arn         = string
    url         = string
    kms_key_arn = optional(string)
  })
  default = null

  validation {
    condition     = var.dead_letter_queue == null ? true : !endswith(var.dead_letter_queue.arn, ".fifo") && !endswith(var.dead_letter_queue.url, ".fifo")
    error_message = "dead_letter_queue must be a standard queue: Lambda destinations and the IoT SQS action cannot send to a FIFO queue."
  }

  validation {
    condition     = var.dead_letter_queue == null ? true : (can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", var.dead_letter_queue.arn)) && (try(var.dead_letter_queue.kms_key_arn, null) == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.dead_letter_queue.kms_key_arn))))
    error_message = "dead_letter_queue.arn must be an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) and kms_key_arn, when set, a KMS key ARN."
  }
}

variable "dead_letter_queue_retention_seconds" {
  description = "How long the module's dead-letter queue keeps a message (60 to 1209600 seconds)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_queue_retention_seconds >= 60 && var.dead_letter_queue_retention_seconds <= 1209600 && floor(var.dead_letter_queue_retention_seconds) == var.dead_letter_queue_retention_seconds
    error_message = "dead_letter_queue_retention_seconds must be between 60 and 1209600 (a whole number)."
  }
}

# --- Connectivity events ----------------------------------------------------

variable "events_enabled" {
  description = "Announce connectivity changes on EventBridge: Device Disconnected once a disconnect has outlasted disconnect_grace_period_seconds, Device Connected when the device returns (docs/announcements.md). Adds a notifier function, a grace-period queue and the table stream (NEW_AND_OLD_IMAGES); nothing of it exists while false."
  type        = bool
  default     = false
}

variable "event_bus_name" {
  description = "Name of the EventBridge event bus (in this account and region) to put announcements on."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,256}$", var.event_bus_name))
    error_message = "event_bus_name must be an event bus name: 1 to 256 letters, digits, '.', '_', '-' or '/'."
  }
}

variable "disconnect_grace_period_seconds" {
  description = "How long a device must stay disconnected before Device Disconnected is announced (0 to 86400 seconds; a reconnect within it announces nothing). Beyond SQS's 900-second maximum delay the check waits again."
  type        = number
  default     = 60

  validation {
    condition     = var.disconnect_grace_period_seconds >= 0 && var.disconnect_grace_period_seconds <= 86400 && floor(var.disconnect_grace_period_seconds) == var.disconnect_grace_period_seconds
    error_message = "disconnect_grace_period_seconds must be a whole number from 0 to 86400."
  }
}

variable "reconcile_interval_minutes" {
  description = "How often the notifier settles every device that owes an announcement (1 to 60 minutes): the longest an announcement waits after an outage of EventBridge, SQS or DynamoDB ends, with no re-drive. Each pass reads only the owed devices, through a sparse index."
  type        = number
  default     = 1

  validation {
    condition     = var.reconcile_interval_minutes >= 1 && var.reconcile_interval_minutes <= 60 && floor(var.reconcile_interval_minutes) == var.reconcile_interval_minutes
    error_message = "reconcile_interval_minutes must be a whole number from 1 to 60."
  }
}

variable "announcement_max_concurrent_puts" {
  description = "Batches of up to 10 looks (each batch one PutEvents request) one notifier invocation has in flight at once. A batch takes about four DynamoDB and EventBridge round trips (40 to 80 ms in AWS), so each unit is about 12 to 25 PutEvents requests (120 to 250 announcements) per second per invocation; the reconciler is one invocation, plus one per stream shard and up to grace_check_max_concurrency for grace checks. Keep their sum under the account's PutEvents quota (400 to 10,000 requests per second depending on the region): throttled entries are retried with backoff, then left owed for the next pass. The default, 8, announces about 1,000 to 2,000 devices a second per invocation: 100,000 owed devices within two one-minute reconcile passes (docs/performance.md)."
  type        = number
  default     = 8

  validation {
    condition     = var.announcement_max_concurrent_puts >= 1 && var.announcement_max_concurrent_puts <= 50 && floor(var.announcement_max_concurrent_puts) == var.announcement_max_concurrent_puts
    error_message = "announcement_max_concurrent_puts must be a whole number from 1 to 50."
  }
}

variable "grace_check_max_concurrency" {
  description = "The most notifier invocations the grace-check queue's event source mapping runs at once (its maximum concurrency, 2 to 1000). The grace checks of a mass outage come due together; this bounds their PutEvents rate (see announcement_max_concurrent_puts), and the reconciler announces what they leave."
  type        = number
  default     = 2

  validation {
    condition     = var.grace_check_max_concurrency >= 2 && var.grace_check_max_concurrency <= 1000 && floor(var.grace_check_max_concurrency) == var.grace_check_max_concurrency
    error_message = "grace_check_max_concurrency must be a whole number from 2 to 1000 (the range of an SQS event source mapping's maximum concurrency)."
  }
}

variable "event_source" {
  description = "The source of the announcements on the bus, for rules to match (EventBridge reserves sources starting with \"aws.\")."
  type        = string
  default     = "iot.device-connectivity"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,256}$", var.event_source)) && !startswith(lower(var.event_source), "aws.")
    error_message = "event_source must be 1 to 256 letters, digits, '.', '_' or '-', and must not start with \"aws.\" (reserved by EventBridge)."
  }
}

# --- Routing and storms (need events_enabled) --------------------------------

variable "thing_context_enabled" {
  description = "Add the device's registry data to every announcement: detail.thing = {name, type, attributes, groups}, from DescribeThing and ListThingGroupsForThing on the event's thingName, else the client ID (cached; with `unavailable = true` when the registry does not answer in time; absent for a client with no thing). Grants the notifier those two actions on this account's things only. Needs events_enabled."
  type        = bool
  default     = false
}

variable "disconnect_grace_period_overrides" {
  description = "Grace periods per device class, first match wins, else disconnect_grace_period_seconds. Each entry has exactly one matcher (thing_group, thing_type, or attribute = {name, value}) and seconds (0 to 86400). Matches on the thing's registry data: needs thing_context_enabled."
  type = list(object({
    thing_group = optional(string)
    thing_type  = optional(string)
    attribute = optional(object({
      name  = string
      value = string
    }))
    seconds = number
  }))
  default = []

  validation {
    condition = alltrue([for override in var.disconnect_grace_period_overrides :
      (override.thing_group != null ? 1 : 0) + (override.thing_type != null ? 1 : 0) + (override.attribute != null ? 1 : 0) == 1
    ])
    error_message = "Each disconnect_grace_period_overrides entry needs exactly one matcher: thing_group, thing_type or attribute = {name, value}."
  }

  validation {
    condition = alltrue([for override in var.disconnect_grace_period_overrides :
      override.thing_group != "" && override.thing_type != "" && try(override.attribute.name != "", true)
    ])
    error_message = "disconnect_grace_period_overrides matchers must not be empty (thing_group, thing_type, attribute.name)."
  }

  validation {
    condition = alltrue([for override in var.disconnect_grace_period_overrides :
      try(override.seconds >= 0 && override.seconds <= 86400 && floor(override.seconds) == override.seconds, false)
    ])
    error_message = "disconnect_grace_period_overrides seconds must be a whole number from 0 to 86400."
  }

  # The notifier's environment carries them, and Lambda allows 4 KB of variables in all.
  validation {
    condition     = length(jsonencode(var.disconnect_grace_period_overrides)) <= 2048
    error_message = "disconnect_grace_period_overrides are too long for the notifier's environment (Lambda allows 4 KB of variables in all): at most 2048 characters as JSON, about 25 entries."
  }
}

variable "maintenance_windows_enabled" {
  description = "Let operators open maintenance windows (`connectivity maintenance start|list|end`): while one applies to a device, its announcements carry detail.maintenance and storms leave it out. Creates the fleet table (`<table_name>-fleet`), which storm_digest shares. Needs events_enabled."
  type        = bool
  default     = false
}

variable "storm_digest" {
  description = "One Fleet Connectivity Degraded event when at least threshold devices of one group are announced Disconnected within window_seconds, and one Fleet Connectivity Restored when the group is back below half the threshold; each Disconnected of the storm carries its stormId. group_by: thing_group, thing_type, attribute:<name> (these need thing_context_enabled) or fleet. Creates the fleet table (`<table_name>-fleet`). null: off. Needs events_enabled."
  type = object({
    threshold      = number
    window_seconds = number
    group_by       = string
  })
  default = null

  validation {
    condition     = var.storm_digest == null ? true : try(var.storm_digest.threshold >= 2 && floor(var.storm_digest.threshold) == var.storm_digest.threshold, false)
    error_message = "storm_digest.threshold must be a whole number of devices, at least 2."
  }

  validation {
    condition     = var.storm_digest == null ? true : try(var.storm_digest.window_seconds >= 10 && var.storm_digest.window_seconds <= 86400 && floor(var.storm_digest.window_seconds) == var.storm_digest.window_seconds, false)
    error_message = "storm_digest.window_seconds must be a whole number from 10 to 86400."
  }

  # Attribute names as the IoT registry allows them.
  validation {
    condition     = var.storm_digest == null ? true : can(regex("^(thing_group|thing_type|fleet|attribute:[A-Za-z0-9_.,@/:#-]{1,128})$", var.storm_digest.group_by))
    error_message = "storm_digest.group_by must be thing_group, thing_type, fleet or attribute:<name> (a thing attribute's name: 1 to 128 letters, digits or _ . , @ / : # -)."
  }
}

variable "schema_registry_name" {
  description = "An existing EventBridge schema registry to register the announcements' JSON Schemas in (schemas/: the device events and the fleet events, JSONSchemaDraft4), for code bindings and discovery. null: no schema is registered. Needs events_enabled."
  type        = string
  default     = null

  validation {
    condition     = var.schema_registry_name == null || can(regex("^[A-Za-z0-9._@-]{1,64}$", var.schema_registry_name))
    error_message = "schema_registry_name must be a schema registry name: 1 to 64 letters, digits, '.', '_', '@' or '-'."
  }
}

# --- Metrics and alarms -------------------------------------------------------

variable "metrics_enabled" {
  description = "Publish the function's and the notifier's CloudWatch metrics in Embedded Metric Format (no API calls, no extra permission): Events by EventType and Outcome, DynamoDbRoundTrips, EventLag (event timestamp to write, ms), Announcements by DetailType. About 14 custom metrics (~$4 a month) plus the log bytes. Needs log_level TRACE, DEBUG or INFO, which keep the metric lines."
  type        = bool
  default     = false
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics; each instance is told apart by the Deployment dimension (its name)."
  type        = string
  default     = "IoTDeviceConnectivity"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1 to 255 letters, digits or . _ / # : -, and must not start with AWS/."
  }
}

variable "connected_devices_metric_enabled" {
  description = "Publish ConnectedDevices, the exact number of Connected clients, once a minute (docs/count.md). Adds the table stream (NEW_AND_OLD_IMAGES), a counter function reading it, a small counts table and a one-minute EventBridge schedule; nothing of it exists while false. Needs metrics_enabled."
  type        = bool
  default     = false
}

variable "connected_devices_counter_shards" {
  description = "Counter items the ConnectedDevices count is spread over (1 to 100), so that no single item takes every status change of a reconnect storm. Raise it, never lower it: the count sums shards 0 to N-1, and a lowered N drops the others (run `connectivity recount` after changing it)."
  type        = number
  default     = 64

  validation {
    condition     = var.connected_devices_counter_shards >= 1 && var.connected_devices_counter_shards <= 100 && floor(var.connected_devices_counter_shards) == var.connected_devices_counter_shards
    error_message = "connected_devices_counter_shards must be a whole number from 1 to 100 (BatchGetItem reads at most 100 keys)."
  }
}

variable "alarms" {
  description = "CloudWatch alarms on what needs an operator: the dead-letter queue not empty, function errors and throttles, AsyncEventsDropped, DestinationDeliveryFailures, DynamoDB write throttling (table and status index), IoT rule action failures and throttling, and with events the notifier's errors and stream iterator age and, with metrics_enabled too, failed looks (Failed) and an owed backlog older than the grace period plus two reconcile intervals. alarm_actions and ok_actions are SNS topic ARNs (or any alarm action). null: no alarms."
  type = object({
    alarm_actions                  = list(string)
    ok_actions                     = optional(list(string), [])
    iterator_age_threshold_seconds = optional(number, 300)
  })
  default = null

  validation {
    condition     = var.alarms == null || try(var.alarms.iterator_age_threshold_seconds > 0, false)
    error_message = "alarms.iterator_age_threshold_seconds must be positive."
  }

  validation {
    condition     = var.alarms == null ? true : alltrue([for arn in concat(var.alarms.alarm_actions, var.alarms.ok_actions) : can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:", arn))])
    error_message = "alarms.alarm_actions and alarms.ok_actions must be ARNs (an SNS topic's, or any alarm action's)."
  }
}

variable "dashboard_enabled" {
  description = "Create a CloudWatch dashboard of the pipeline: events by outcome, event lag, DynamoDB round trips and throttling, function errors, the dead-letter queue and, with events, announcements and iterator age. Free for the first three dashboards of an account, $3 a month each after."
  type        = bool
  default     = false
}

variable "history_enabled" {
  description = "Keep every connect and disconnect in a second DynamoDB table (`<table_name>-history`), for sessions, uptime per device and per fleet, and the availability report of the connectivity CLI. Off: nothing is created."
  type        = bool
  default     = false
}

variable "history_retention_days" {
  description = "Days a history event is kept after its timestamp (DynamoDB TTL on ExpiresAt), with history_enabled."
  type        = number
  default     = 90

  validation {
    condition     = var.history_retention_days >= 1 && var.history_retention_days <= 3650 && floor(var.history_retention_days) == var.history_retention_days
    error_message = "history_retention_days must be a whole number of days from 1 to 3650."
  }
}
