output "dynamodb_table_name" {
  description = "Table with one item per MQTT client ID."
  value       = module.device_connectivity.dynamodb_table_name
}

output "lambda_function_name" {
  description = "Function applying lifecycle events."
  value       = module.device_connectivity.lambda_function_name
}

output "notifier_function_name" {
  description = "Function announcing connectivity changes, deployed from the same zip."
  value       = module.device_connectivity.notifier_function_name
}
