output "dynamodb_table_name" {
  description = "The status table."
  value       = module.device_connectivity.dynamodb_table_name
}

output "fleet_table_name" {
  description = "Where maintenance windows and storm groups are kept (connectivity maintenance ...)."
  value       = module.device_connectivity.fleet_table_name
}

output "event_source" {
  description = "The source of this deployment's announcements."
  value       = module.device_connectivity.event_source
}

output "events_queue_url" {
  description = "The queue every announcement reaches."
  value       = aws_sqs_queue.events.id
}

output "presence_function_name" {
  description = "The function the topic rule invokes with lifecycle events."
  value       = module.device_connectivity.lambda_function_name
}
