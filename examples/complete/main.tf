# The module with the settings a platform team would pick for production, deployable
# to a real account or, with AWS_ENDPOINT_URL set, to the local emulator.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "terraform"
      Example   = "iot-device-connectivity/complete"
    }
  }
}

module "device_connectivity" {
  source = "../.."

  name       = var.name
  table_name = "${var.name}-DeviceConnectivity"

  architecture               = var.architecture
  ignored_client_id_prefixes = ["iotconsole"]
  log_level                  = "INFO"
  log_retention_in_days      = 30

  status_index_enabled        = true
  item_ttl_days               = 90
  include_subscription_events = false

  history_enabled                 = true
  events_enabled                  = true
  disconnect_grace_period_seconds = var.disconnect_grace_period_seconds

  status_index_shards              = 64
  metrics_enabled                  = true
  connected_devices_metric_enabled = true
  dashboard_enabled                = true
  alarms                           = { alarm_actions = [aws_sns_topic.alarms.arn], ok_actions = [aws_sns_topic.alarms.arn] }

  tags = var.tags
}

# Where the module's alarms go; subscribe the on-call rotation (email, chat, paging).
resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-connectivity-alarms"
  kms_master_key_id = "alias/aws/sns"
}

# The consumer side: an EventBridge rule on the module's source, delivering every
# announcement to a queue. Route to SNS, Step Functions, an API destination... the same way.
resource "aws_cloudwatch_event_rule" "connectivity" {
  name        = "${var.name}-connectivity-events"
  description = "Device Connected and Device Disconnected announcements"
  event_pattern = jsonencode({
    source        = [module.device_connectivity.event_source]
    "detail-type" = ["Device Connected", "Device Disconnected"]
  })
}

resource "aws_sqs_queue" "events" {
  name                    = "${var.name}-connectivity-events"
  sqs_managed_sse_enabled = true
}

data "aws_iam_policy_document" "events_queue" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.connectivity.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.events_queue.json
}

resource "aws_cloudwatch_event_target" "events_queue" {
  rule = aws_cloudwatch_event_rule.connectivity.name
  arn  = aws_sqs_queue.events.arn
}
