# Announcements of the root module, reshaped into Amazon Q Developer in chat applications
# (AWS Chatbot) custom notifications and published to one SNS topic: subscribe a Slack or
# Microsoft Teams channel configuration to it. One rule per kind of notification, each with
# an input transformer; what each one sends is in notifications.json and templates/.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # The notifications: rule pattern (beyond source and detail-type) and input paths, by
  # key; the template of each is templates/<key>.tpl. tools/test_chat_delivery.py reads the
  # same files.
  notifications = jsondecode(file("${path.module}/notifications.json"))

  create_key = var.kms_master_key_id == null
  topic_key  = local.create_key ? aws_kms_key.topic[0].arn : var.kms_master_key_id
}

# EventBridge publishes to an encrypted topic only with a customer managed key whose key
# policy lets it use the key; the AWS managed alias/aws/sns cannot.
data "aws_iam_policy_document" "key" {
  count = local.create_key ? 1 : 0

  statement {
    sid       = "Account"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "EventBridgePublishes"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "topic" {
  count = local.create_key ? 1 : 0

  description             = "Encrypts the ${var.name}-chat SNS topic (connectivity notifications)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "topic" {
  count = local.create_key ? 1 : 0

  name          = "alias/${var.name}-chat"
  target_key_id = aws_kms_key.topic[0].key_id
}

resource "aws_sns_topic" "this" {
  name              = "${var.name}-chat"
  kms_master_key_id = local.topic_key
  tags              = var.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.notifications

  name           = "${var.name}-chat-${each.key}"
  description    = each.value.description
  event_bus_name = var.event_bus_name
  event_pattern = jsonencode(merge(
    { source = [var.event_source], "detail-type" = [each.value.detail_type] },
    { for key, detail in { detail = each.value.detail } : key => detail if length(detail) > 0 },
  ))
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.notifications

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = var.event_bus_name
  target_id      = "chat"
  arn            = aws_sns_topic.this.arn

  input_transformer {
    input_paths    = each.value.input_paths
    input_template = file("${path.module}/templates/${each.key}.tpl")
  }
}

# Only these rules may publish (the topic accepts nothing else from EventBridge).
data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "ChatRulesPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in aws_cloudwatch_event_rule.this : rule.arn]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}
