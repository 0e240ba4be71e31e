# Announcements that route themselves: each carries its thing's registry data, battery
# sensors get a longer grace period than the rest, a site under maintenance pages nobody,
# and a site going dark is one `Fleet Connectivity Degraded` instead of one page per
# device. Deployable to a real account or, with AWS_ENDPOINT_URL set, to the local emulator.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "terraform"
      Example   = "iot-device-connectivity/routing"
    }
  }
}

module "device_connectivity" {
  source = "../.."

  name         = var.name
  table_name   = "${var.name}-DeviceConnectivity"
  event_source = "${var.name}.connectivity"

  events_enabled                    = true
  disconnect_grace_period_seconds   = var.disconnect_grace_period_seconds
  thing_context_enabled             = true
  disconnect_grace_period_overrides = var.disconnect_grace_period_overrides
  maintenance_windows_enabled       = true
  storm_digest                      = var.storm_digest

  tags = var.tags
}

# Every announcement, device and fleet, to one queue: route on detail.thing.groups,
# detail.stormId or the Fleet detail-types the same way, to SNS, Step Functions or an API
# destination.
resource "aws_cloudwatch_event_rule" "connectivity" {
  name        = "${var.name}-routed-events"
  description = "Device and fleet connectivity announcements"
  event_pattern = jsonencode({
    source        = [module.device_connectivity.event_source]
    "detail-type" = ["Device Connected", "Device Disconnected", "Fleet Connectivity Degraded", "Fleet Connectivity Restored"]
  })
}

resource "aws_sqs_queue" "events" {
  name                    = "${var.name}-routed-events"
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
