# Connectivity announcements in a chat channel: the module with events on, modules/chat
# reshaping them into Amazon Q Developer in chat applications (AWS Chatbot) custom
# notifications on an SNS topic, and a queue subscribed to the topic so the messages can be
# read without a chat workspace. Deployable to a real account or, with AWS_ENDPOINT_URL
# set, to the local emulator.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "terraform"
      Example   = "iot-device-connectivity/chat"
    }
  }
}

module "device_connectivity" {
  source = "../.."

  name       = var.name
  table_name = "${var.name}-DeviceConnectivity"

  events_enabled                  = true
  disconnect_grace_period_seconds = var.disconnect_grace_period_seconds

  tags = var.tags
}

module "chat" {
  source = "../../modules/chat"

  name           = var.name
  event_source   = module.device_connectivity.event_source
  event_bus_name = module.device_connectivity.event_bus_arn

  tags = var.tags
}

# To see the notifications in Slack or Microsoft Teams, subscribe a channel configuration
# of Amazon Q Developer in chat applications to module.chat.topic_arn, for example:
#
# resource "aws_chatbot_slack_channel_configuration" "connectivity" {
#   configuration_name = "${var.name}-connectivity"
#   iam_role_arn       = aws_iam_role.chatbot.arn
#   slack_team_id      = "T0123456789"
#   slack_channel_id   = "C0123456789"
#   sns_topic_arns     = [module.chat.topic_arn]
# }

# The queue stands in for the channel: it gets every notification as SNS sends it (raw, so
# each message body is the notification itself).
resource "aws_sqs_queue" "notifications" {
  name                    = "${var.name}-chat-notifications"
  sqs_managed_sse_enabled = true
}

data "aws_iam_policy_document" "notifications_queue" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.notifications.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.chat.topic_arn]
    }
  }
}

resource "aws_sqs_queue_policy" "notifications" {
  queue_url = aws_sqs_queue.notifications.id
  policy    = data.aws_iam_policy_document.notifications_queue.json
}

resource "aws_sns_topic_subscription" "notifications" {
  topic_arn            = module.chat.topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.notifications.arn
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.notifications]
}
