output "dynamodb_table_name" {
  description = "Table with one item per MQTT client ID."
  value       = module.device_connectivity.dynamodb_table_name
}

output "dynamodb_table_arn" {
  description = "ARN of the table."
  value       = module.device_connectivity.dynamodb_table_arn
}

output "dynamodb_status_index_name" {
  description = "Index to list clients by Status."
  value       = module.device_connectivity.dynamodb_status_index_name
}

output "lambda_function_name" {
  description = "Function applying lifecycle events."
  value       = module.device_connectivity.lambda_function_name
}

output "lambda_function_arn" {
  description = "ARN of the function."
  value       = module.device_connectivity.lambda_function_arn
}

output "lambda_package_path" {
  description = "The zip the module built and deployed."
  value       = module.device_connectivity.lambda_package_path
}

output "iam_role_name" {
  description = "Execution role of the function."
  value       = module.device_connectivity.iam_role_name
}

output "iam_role_arn" {
  description = "ARN of the execution role."
  value       = module.device_connectivity.iam_role_arn
}

output "iot_topic_rule_name" {
  description = "IoT topic rule forwarding lifecycle events."
  value       = module.device_connectivity.iot_topic_rule_name
}

output "iot_topic_rule_arn" {
  description = "ARN of the topic rule."
  value       = module.device_connectivity.iot_topic_rule_arn
}

output "cloudwatch_log_group_name" {
  description = "The function's log group."
  value       = module.device_connectivity.cloudwatch_log_group_name
}

output "dead_letter_queue_url" {
  description = "Queue keeping events that could not be delivered or stored."
  value       = module.device_connectivity.dead_letter_queue_url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.device_connectivity.dead_letter_queue_arn
}

output "notifier_function_name" {
  description = "Function announcing connectivity changes."
  value       = module.device_connectivity.notifier_function_name
}

output "grace_period_queue_url" {
  description = "Queue holding disconnects through their grace period."
  value       = module.device_connectivity.grace_period_queue_url
}

output "event_source" {
  description = "Source of the announcements on the bus."
  value       = module.device_connectivity.event_source
}

output "fleet_events_queue_url" {
  description = "Queue receiving every Fleet Connectivity Degraded and Restored."
  value       = aws_sqs_queue.fleet_events.url
}

output "events_queue_url" {
  description = "Queue receiving every announcement through the EventBridge rule."
  value       = aws_sqs_queue.events.url
}


output "dynamodb_status_index_shards" {
  description = "Shards of the status index key, for the connectivity CLI (--shards)."
  value       = module.device_connectivity.dynamodb_status_index_shards
}

output "operator_environment" {
  description = "Settings for the connectivity and replay CLIs."
  value       = module.device_connectivity.operator_environment
}

output "alarms_topic_arn" {
  description = "SNS topic receiving the module's alarms."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "The module's CloudWatch alarms."
  value       = module.device_connectivity.alarm_names
}

output "dashboard_name" {
  description = "The module's CloudWatch dashboard."
  value       = module.device_connectivity.dashboard_name
}

output "counts_table_name" {
  description = "Counts table behind the ConnectedDevices metric."
  value       = module.device_connectivity.counts_table_name
}

output "counter_function_name" {
  description = "Function keeping the ConnectedDevices count."
  value       = module.device_connectivity.counter_function_name
}

output "history_table_name" {
  description = "The connectivity history table, for connectivity history and availability."
  value       = module.device_connectivity.history_table_name
}

output "history_table_arn" {
  description = "ARN of the connectivity history table, for readers' IAM policies."
  value       = module.device_connectivity.history_table_arn
}

output "announced_table_name" {
  description = "The example consumer's table: each device's latest announced status (Status, Sequence, EventId), applied by sequence."
  value       = aws_dynamodb_table.announced.name
}
