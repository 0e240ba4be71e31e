output "dynamodb_table_name" {
  description = "The status table."
  value       = module.device_connectivity.dynamodb_table_name
}

output "event_source" {
  description = "The source of this deployment's announcements."
  value       = module.device_connectivity.event_source
}

output "presence_function_name" {
  description = "The function the topic rule invokes with lifecycle events."
  value       = module.device_connectivity.lambda_function_name
}

output "pager_function_name" {
  description = "The function that pages PagerDuty."
  value       = module.pagerduty.function_name
}

output "pager_queue_url" {
  description = "The queue of announcements to page on."
  value       = module.pagerduty.queue_url
}

output "pager_dead_letter_queue_url" {
  description = "Pages PagerDuty refused (with its message) or that exhausted their retries."
  value       = module.pagerduty.dead_letter_queue_url
}

output "pager_table_name" {
  description = "The pager's table: one item per incident key."
  value       = module.pagerduty.table_name
}

output "pager_rule_name" {
  description = "The EventBridge rule that queues the announcements for the pager."
  value       = module.pagerduty.rule_name
}
