data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  function_name = "${var.name}-device-connectivity"
  # IoT rule names allow only letters, digits and underscores.
  rule_name      = "${replace(var.name, "-", "_")}_device_connectivity"
  log_group_name = "/aws/lambda/${local.function_name}"
  # A log group's ARN, from its name: known at plan, and no reference into the function
  # module whose policy needs it.
  # What every function of the module shares (modules/function).
  function_common = {
    package               = local.package
    architecture          = var.architecture
    memory_size           = var.memory_size
    log_retention_in_days = var.log_retention_in_days
    log_kms_key_arn       = var.log_kms_key_arn
    log_level             = var.log_level
    system_log_level      = var.system_log_level
    assume_role_policy    = data.aws_iam_policy_document.assume["function"].json
    tags                  = var.tags
  }
  log_group_arn_prefix = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.id}:${local.account_id}:log-group:"
  status_index         = "ByStatusShard"
  owed_index           = "ByAnnouncementOwed"
  account_id           = data.aws_caller_identity.current.account_id
  # Built, not read from the rule, so the Lambda permission can exist before the rule
  # goes live (otherwise the first events fail into the DLQ, and again on destroy).
  rule_arn = "arn:${data.aws_partition.current.partition}:iot:${data.aws_region.current.id}:${local.account_id}:rule/${local.rule_name}"

  # The module's own readers of the table's stream.
  stream_consumed = var.events_enabled || var.connected_devices_metric_enabled
  # Stream records of a status change: Connected to Disconnected or back, or a client
  # that appeared Connected (the notifier's own writes leave Status alone).
  status_change_patterns = [
    jsonencode({ dynamodb = { OldImage = { Status = { S = ["Connected"] } }, NewImage = { Status = { S = ["Disconnected"] } } } }),
    jsonencode({ dynamodb = { OldImage = { Status = { S = ["Disconnected"] } }, NewImage = { Status = { S = ["Connected"] } } } }),
    jsonencode({ eventName = ["INSERT"], dynamodb = { NewImage = { Status = { S = ["Connected"] } } } }),
  ]

  create_dead_letter_queue = var.dead_letter_queue == null
  dead_letter_queue_arn    = local.create_dead_letter_queue ? aws_sqs_queue.dead_letter[0].arn : var.dead_letter_queue.arn
  dead_letter_queue_url    = local.create_dead_letter_queue ? aws_sqs_queue.dead_letter[0].url : var.dead_letter_queue.url
  # A caller's queue encrypted with a customer managed key: both senders need the key.
  dead_letter_queue_kms_key_arn = try(var.dead_letter_queue.kms_key_arn, null)

  # '#', not '+/+': client IDs may contain '/', which adds topic levels
  # ($aws/events/presence/connected/site-3/gw-1). The handler checks eventType itself.
  # With subscriptions: all of $aws/events, narrowed to the lifecycle topics (registry
  # events such as $aws/events/thing/... share the prefix).
  rule_sql = var.include_subscription_events ? join(" ", [
    "SELECT * FROM '$aws/events/#'",
    "WHERE startswith(topic(), '$aws/events/presence/')",
    "OR startswith(topic(), '$aws/events/subscriptions/')",
  ]) : "SELECT * FROM '$aws/events/presence/#'"

  environment = merge(
    {
      TABLE_NAME                 = aws_dynamodb_table.connectivity.name
      IGNORED_CLIENT_ID_PREFIXES = join(",", var.ignored_client_id_prefixes)
    },
    var.record_unknown_connect_failures ? { RECORD_UNKNOWN_CONNECT_FAILURES = "true" } : {},
    var.item_ttl_days == null ? {} : { ITEM_TTL_SECONDS = tostring(var.item_ttl_days * 86400) },
    var.status_index_enabled ? { STATUS_INDEX_SHARDS = tostring(var.status_index_shards) } : {},
    var.events_enabled ? { ANNOUNCEMENTS_ENABLED = "true" } : {},
    local.history_environment,
    local.metrics_environment,
  )
  # What changes what a write to the table looks like, kept with the table so that the
  # operators' CLIs (replay, connectivity) write what the functions write knowing only the
  # table's name (function/src/shared/deployment.rs reads them). Tags, not an item: an item would
  # show in every scan, stream and count. Tag values allow only letters, digits, spaces
  # and + - = . _ : /, hence the prefixes as base64 of a JSON list.
  settings_tags = merge(
    {
      "iot-connectivity:settings-version"                = "1"
      "iot-connectivity:status-index-shards"             = var.status_index_enabled ? tostring(var.status_index_shards) : "off"
      "iot-connectivity:item-ttl-seconds"                = var.item_ttl_days == null ? "off" : tostring(var.item_ttl_days * 86400)
      "iot-connectivity:record-unknown-connect-failures" = tostring(var.record_unknown_connect_failures)
      "iot-connectivity:ignored-client-id-prefixes"      = base64encode(jsonencode(var.ignored_client_id_prefixes))
      "iot-connectivity:counts-table"                    = var.connected_devices_metric_enabled ? local.counts_table : "off"
      "iot-connectivity:announcements"                   = tostring(var.events_enabled)
      "iot-connectivity:history-table"                   = var.history_enabled ? local.history_table : "off"
    },
    # Only when on: a table deployed without it keeps the tags it had.
    local.fleet == 1 ? { "iot-connectivity:fleet-table" = local.fleet_table } : {},
    var.history_enabled ? { "iot-connectivity:history-retention-seconds" = tostring(var.history_retention_days * 86400) } : {},
    var.connected_devices_metric_enabled ? { "iot-connectivity:counter-shards" = tostring(var.connected_devices_counter_shards) } : {},
  )

  # The settings that need events_enabled, when set (the table's precondition names them).
  routing_settings = compact([
    var.thing_context_enabled ? "thing_context_enabled" : "",
    length(var.disconnect_grace_period_overrides) > 0 ? "disconnect_grace_period_overrides" : "",
    var.maintenance_windows_enabled ? "maintenance_windows_enabled" : "",
    var.storm_digest != null ? "storm_digest" : "",
    var.schema_registry_name != null ? "schema_registry_name" : "",
  ])

  # EMF lines: CloudWatch extracts the metrics from the log group.
  metrics_environment = var.metrics_enabled ? {
    METRICS_NAMESPACE  = var.metrics_namespace
    METRICS_DEPLOYMENT = var.name
  } : {}
}

# --- DynamoDB ---------------------------------------------------------------

resource "aws_dynamodb_table" "connectivity" {
  name                        = var.table_name
  billing_mode                = var.billing_mode
  read_capacity               = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.read : null
  write_capacity              = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.write : null
  hash_key                    = "ClientID"
  deletion_protection_enabled = var.deletion_protection_enabled
  # The stream is the notifier's outbox when events are on, and the counter's source.
  stream_enabled   = var.stream_view_type != null || local.stream_consumed
  stream_view_type = local.stream_consumed ? "NEW_AND_OLD_IMAGES" : var.stream_view_type

  attribute {
    name = "ClientID"
    type = "S"
  }

  dynamic "attribute" {
    for_each = merge(
      var.status_index_enabled ? { StatusShard = "S", LastUpdateTime = "N" } : {},
      var.events_enabled ? { OwedShard = "S", LastUpdateTime = "N" } : {},
    )
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = var.status_index_enabled ? [local.status_index] : []
    content {
      name            = global_secondary_index.value
      hash_key        = "StatusShard"
      range_key       = "LastUpdateTime"
      projection_type = "ALL"
      read_capacity   = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.read : null
      write_capacity  = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.write : null
    }
  }

  # The items that may owe an announcement (events_enabled): sparse, since only items
  # with OwedShard are in it, so the reconciler reads what is owed, never the fleet.
  dynamic "global_secondary_index" {
    for_each = var.events_enabled ? [local.owed_index] : []
    content {
      name            = global_secondary_index.value
      hash_key        = "OwedShard"
      range_key       = "LastUpdateTime"
      projection_type = "KEYS_ONLY"
      read_capacity   = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.read : null
      write_capacity  = var.billing_mode == "PROVISIONED" ? var.provisioned_capacity.write : null
    }
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  # Without a customer key: DynamoDB's AWS owned key (encrypted at rest, no KMS charges).
  # enabled = true without a key would pick the AWS managed key (aws/dynamodb), billed
  # per KMS request and auditable in CloudTrail; docs/security.md compares the three.
  server_side_encryption {
    enabled     = var.table_kms_key_arn != null
    kms_key_arn = var.table_kms_key_arn
  }

  dynamic "ttl" {
    for_each = var.item_ttl_days == null ? [] : ["ExpiresAt"]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  # The settings win over a caller's tag of the same key.
  tags = merge(var.tags, local.settings_tags)

  lifecycle {
    precondition {
      condition     = length(local.settings_tags["iot-connectivity:ignored-client-id-prefixes"]) <= 256
      error_message = "ignored_client_id_prefixes are too long to keep with the table: at most about 180 characters in all."
    }
    precondition {
      condition     = !local.stream_consumed || var.stream_view_type == null || var.stream_view_type == "NEW_AND_OLD_IMAGES"
      error_message = "events_enabled and connected_devices_metric_enabled each need the stream's NEW_AND_OLD_IMAGES view: leave stream_view_type null or set it to that."
    }
    # Routing and storms shape announcements: nothing of them works without events.
    precondition {
      condition     = var.events_enabled || length(local.routing_settings) == 0
      error_message = "events_enabled is false, so there are no connectivity announcements for ${join(", ", local.routing_settings)} to shape: set events_enabled = true."
    }
    precondition {
      condition     = length(var.disconnect_grace_period_overrides) == 0 || var.thing_context_enabled
      error_message = "disconnect_grace_period_overrides match on the thing's registry data (its groups, type and attributes): set thing_context_enabled = true too."
    }
    precondition {
      condition     = var.storm_digest == null || try(var.storm_digest.group_by == "fleet", false) || var.thing_context_enabled
      error_message = "storm_digest.group_by = \"${try(var.storm_digest.group_by, "")}\" groups devices by the thing's registry data: set thing_context_enabled = true too, or group_by = \"fleet\"."
    }
  }
}

# --- Dead-letter queue ------------------------------------------------------

resource "aws_sqs_queue" "dead_letter" {
  count = local.create_dead_letter_queue ? 1 : 0

  name                      = "${var.name}-device-connectivity-dlq"
  message_retention_seconds = var.dead_letter_queue_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}
