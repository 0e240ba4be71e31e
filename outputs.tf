output "dynamodb_table_name" {
  description = "Name of the table with one item per MQTT client ID."
  value       = aws_dynamodb_table.connectivity.name
}

output "dynamodb_table_arn" {
  description = "ARN of the table, for the IAM policies of readers."
  value       = aws_dynamodb_table.connectivity.arn
}

output "dynamodb_table_stream_arn" {
  description = "ARN of the table's stream of status changes (null unless stream_view_type is set)."
  value       = var.stream_view_type == null ? null : aws_dynamodb_table.connectivity.stream_arn
}

output "dynamodb_status_index_name" {
  description = "Name of the (StatusShard, LastUpdateTime) index (null unless status_index_enabled). Query it once per shard, StatusShard = \"Connected#0\" ... \"Connected#<shards-1>\"."
  value       = var.status_index_enabled ? local.status_index : null
}

output "dynamodb_status_index_shards" {
  description = "Number of shards of the status index key (null unless status_index_enabled), for readers that query it."
  value       = var.status_index_enabled ? var.status_index_shards : null
}

output "dynamodb_status_index_arn" {
  description = "ARN of the status index, for the IAM policies of readers that Query it (Query on an index is authorised on the index ARN, not the table's). null unless status_index_enabled."
  value       = var.status_index_enabled ? "${aws_dynamodb_table.connectivity.arn}/index/${local.status_index}" : null
}

output "lambda_function_name" {
  description = "Name of the function that applies lifecycle events."
  value       = module.presence_function.function_name
}

output "lambda_function_arn" {
  description = "ARN of the function."
  value       = module.presence_function.function_arn
}

output "lambda_package_path" {
  description = "Local path of the deployed zip when the module built it or package_path was given (null for s3_package)."
  value       = local.build_package ? local.built_package : var.package_path
}

output "lambda_package" {
  description = "The module's Lambda package and architecture, for submodules that run a role of the same bootstrap binary (modules/pagerduty)."
  value       = merge(local.package, { architecture = var.architecture })
  # A consumer's function is created after the package is built at apply.
  depends_on = [terraform_data.build]
}

output "iam_role_name" {
  description = "Name of the function's execution role."
  value       = module.presence_function.role_name
}

output "iam_role_arn" {
  description = "ARN of the function's execution role."
  value       = module.presence_function.role_arn
}

output "iot_topic_rule_name" {
  description = "Name of the IoT topic rule that forwards lifecycle events."
  value       = aws_iot_topic_rule.lifecycle.name
}

output "iot_topic_rule_arn" {
  description = "ARN of the IoT topic rule."
  value       = aws_iot_topic_rule.lifecycle.arn
}

output "cloudwatch_log_group_name" {
  description = "Name of the function's log group (JSON logs, one line per event)."
  value       = module.presence_function.log_group_name
}

output "cloudwatch_log_group_arn" {
  description = "ARN of the function's log group."
  value       = module.presence_function.log_group_arn
}

output "dead_letter_queue_url" {
  description = "URL of the queue that keeps events the rule could not deliver or the function could not store."
  value       = local.dead_letter_queue_url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = local.dead_letter_queue_arn
}

output "event_source" {
  description = "The source of the connectivity announcements on the bus (null unless events_enabled)."
  value       = var.events_enabled ? var.event_source : null
}

output "event_bus_arn" {
  description = "ARN of the event bus the announcements are put on (null unless events_enabled)."
  value       = var.events_enabled ? local.event_bus_arn : null
}

output "notifier_function_name" {
  description = "Name of the function that announces connectivity changes (null unless events_enabled)."
  value       = one(module.notifier[*].function_name)
}

output "notifier_function_arn" {
  description = "ARN of the notifier function (null unless events_enabled)."
  value       = one(module.notifier[*].function_arn)
}

output "grace_period_queue_url" {
  description = "URL of the SQS delay queue holding disconnects until their grace period has passed (null unless events_enabled)."
  value       = try(aws_sqs_queue.grace_period[0].url, null)
}

output "grace_period_queue_arn" {
  description = "ARN of the grace-period queue (null unless events_enabled)."
  value       = try(aws_sqs_queue.grace_period[0].arn, null)
}

output "operator_environment" {
  description = "The function's settings as environment variables (TABLE_NAME, STATUS_INDEX_SHARDS, ITEM_TTL_SECONDS, ..., COUNTS_TABLE_NAME and COUNTER_SHARDS with the ConnectedDevices count, and FLEET_TABLE_NAME with the fleet table), for scripts. The connectivity and replay CLIs read the same settings from the table's tags and need only the table's name."
  value       = merge(local.environment, local.counter_environment, local.fleet == 1 ? { FLEET_TABLE_NAME = local.fleet_table } : {})
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms (empty unless alarms is set)."
  value       = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name]
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (null unless dashboard_enabled)."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the EMF metrics (null unless metrics_enabled); the Deployment dimension is the module's name."
  value       = var.metrics_enabled ? var.metrics_namespace : null
}

output "counts_table_name" {
  description = "Name of the counts table behind ConnectedDevices (null unless connected_devices_metric_enabled)."
  value       = one(aws_dynamodb_table.counts[*].name)
}

output "counts_table_arn" {
  description = "ARN of the counts table (null unless connected_devices_metric_enabled)."
  value       = one(aws_dynamodb_table.counts[*].arn)
}

output "counter_function_name" {
  description = "Name of the counter function (null unless connected_devices_metric_enabled)."
  value       = one(module.counter[*].function_name)
}

output "counter_function_arn" {
  description = "ARN of the counter function (null unless connected_devices_metric_enabled)."
  value       = one(module.counter[*].function_arn)
}

output "history_table_name" {
  description = "Name of the connectivity history table (null unless history_enabled). The connectivity CLI finds it from the status table's tags: give it the status table."
  value       = try(aws_dynamodb_table.history[0].name, null)
}

output "history_table_arn" {
  description = "ARN of the connectivity history table (null unless history_enabled), for the IAM policies of readers (dynamodb:Query)."
  value       = try(aws_dynamodb_table.history[0].arn, null)
}

output "fleet_table_name" {
  description = "Name of the fleet table holding maintenance windows and storms (null unless maintenance_windows_enabled or storm_digest is set). The connectivity CLI finds it from the status table's tags: give it the status table."
  value       = one(aws_dynamodb_table.fleet[*].name)
}

output "fleet_table_arn" {
  description = "ARN of the fleet table (null unless maintenance_windows_enabled or storm_digest is set), for the IAM policies of operators who run `connectivity maintenance`."
  value       = one(aws_dynamodb_table.fleet[*].arn)
}

output "event_schema_names" {
  description = "Names of the announcements' schemas in schema_registry_name, by event family: device (Device Connected, Device Disconnected) and fleet (Fleet Connectivity Degraded, Fleet Connectivity Restored), for code bindings. null unless schema_registry_name is set."
  value       = var.schema_registry_name == null ? null : { device = aws_schemas_schema.device_events[0].name, fleet = aws_schemas_schema.fleet_events[0].name }
}

output "event_schema_arns" {
  description = "ARNs of the announcements' schemas, by event family (device, fleet); null unless schema_registry_name is set."
  value       = var.schema_registry_name == null ? null : { device = aws_schemas_schema.device_events[0].arn, fleet = aws_schemas_schema.fleet_events[0].arn }
}
