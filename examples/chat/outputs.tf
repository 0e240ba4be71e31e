output "table_name" {
  description = "Name of the connectivity table."
  value       = module.device_connectivity.dynamodb_table_name
}

output "topic_arn" {
  description = "ARN of the topic the chat notifications are published to: subscribe a chat channel configuration to it."
  value       = module.chat.topic_arn
}

output "rule_arns" {
  description = "ARN of each of modules/chat's EventBridge rules, by notification."
  value       = module.chat.rule_arns
}

output "notifications_queue_url" {
  description = "URL of the queue subscribed to the topic: each message body is one chat notification."
  value       = aws_sqs_queue.notifications.url
}
