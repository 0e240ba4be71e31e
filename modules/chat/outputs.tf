output "topic_arn" {
  description = "ARN of the SNS topic the notifications are published to: subscribe an Amazon Q Developer in chat applications (AWS Chatbot) channel configuration to it."
  value       = aws_sns_topic.this.arn
}

output "rule_arns" {
  description = "ARN of each EventBridge rule, by notification: connected, first-seen, disconnected, removed, degraded, restored."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.arn }
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the topic: the one the module created, or null when kms_master_key_id was given."
  value       = one(aws_kms_key.topic[*].arn)
}
