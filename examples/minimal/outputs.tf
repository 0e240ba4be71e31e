output "dynamodb_table_name" {
  description = "Table with one item per MQTT client ID."
  value       = module.device_connectivity.dynamodb_table_name
}

output "lambda_function_name" {
  description = "Function applying lifecycle events."
  value       = module.device_connectivity.lambda_function_name
}

output "dead_letter_queue_url" {
  description = "Queue keeping events that could not be delivered or stored."
  value       = module.device_connectivity.dead_letter_queue_url
}
