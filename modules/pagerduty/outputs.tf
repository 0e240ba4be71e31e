output "function_name" {
  description = "Name of the pager function (`<name>-pager`)."
  value       = module.pager_function.function_name
}

output "function_arn" {
  description = "ARN of the pager function."
  value       = module.pager_function.function_arn
}

output "role_name" {
  description = "Name of the pager function's execution role."
  value       = module.pager_function.role_name
}

output "table_name" {
  description = "Name of the table holding one item per incident key (`<name>-pages`)."
  value       = aws_dynamodb_table.pages.name
}

output "table_arn" {
  description = "ARN of the pages table."
  value       = aws_dynamodb_table.pages.arn
}

output "queue_url" {
  description = "URL of the queue the announcements rule delivers to (`<name>-pages`): where pages moved back from the dead-letter queue go."
  value       = aws_sqs_queue.pages.url
}

output "queue_arn" {
  description = "ARN of the pages queue (the destination of `aws sqs start-message-move-task`)."
  value       = aws_sqs_queue.pages.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (`<name>-pages-dlq`): pages PagerDuty refused (400, with its message) and announcements the pager failed to record 50 times."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue (the source of `aws sqs start-message-move-task`)."
  value       = aws_sqs_queue.dead_letter.arn
}

output "rule_name" {
  description = "Name of the EventBridge rule that queues the announcements (`<name>-pager-announcements`)."
  value       = aws_cloudwatch_event_rule.announcements.name
}

output "rule_arn" {
  description = "ARN of the announcements rule."
  value       = aws_cloudwatch_event_rule.announcements.arn
}

output "dead_letter_alarm_name" {
  description = "Name of the CloudWatch alarm on the dead-letter queue (`<name>-pager-dead-letters`)."
  value       = aws_cloudwatch_metric_alarm.dead_letters.alarm_name
}
