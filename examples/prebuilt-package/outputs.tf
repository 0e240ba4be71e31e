output "dynamodb_table_name" {
  description = "Table with one item per MQTT client ID."
  value       = module.device_connectivity.dynamodb_table_name
}

output "lambda_function_name" {
  description = "Function applying lifecycle events."
  value       = module.device_connectivity.lambda_function_name
}
