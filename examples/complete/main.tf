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
  # A mass outage is one Fleet Connectivity Degraded (and its end one Restored), and its
  # devices' Device Disconnected name the storm (detail.stormId): page the storm once.
  storm_digest = var.storm_digest

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

# Storms, on a queue of their own: one Fleet Connectivity Degraded per mass outage, one
# Restored when it ends. Page the storm, and leave out the Device Disconnected that name it.
resource "aws_cloudwatch_event_rule" "fleet" {
  name        = "${var.name}-connectivity-fleet-events"
  description = "Fleet Connectivity Degraded and Restored announcements"
  event_pattern = jsonencode({
    source        = [module.device_connectivity.event_source]
    "detail-type" = ["Fleet Connectivity Degraded", "Fleet Connectivity Restored"]
  })
}

resource "aws_sqs_queue" "fleet_events" {
  name                    = "${var.name}-connectivity-fleet-events"
  sqs_managed_sse_enabled = true
}

data "aws_iam_policy_document" "fleet_events_queue" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.fleet_events.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.fleet.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "fleet_events" {
  queue_url = aws_sqs_queue.fleet_events.id
  policy    = data.aws_iam_policy_document.fleet_events_queue.json
}

resource "aws_cloudwatch_event_target" "fleet_events_queue" {
  rule = aws_cloudwatch_event_rule.fleet.name
  arn  = aws_sqs_queue.fleet_events.arn
}

# A consumer that orders what it receives. EventBridge delivers in no order and at least
# once, so this one keeps each device's latest announced status in a table, applying an
# announcement only if its detail.sequence is above the one applied last (one conditional
# write: docs/announcements.md#ordering-announcements). It runs the module's own package in
# its `view` role; write yours in any language the same way.
resource "aws_dynamodb_table" "announced" {
  # checkov:skip=CKV_AWS_28: a view rebuilt from the announcements; no point-in-time recovery needed
  # checkov:skip=CKV_AWS_119: encrypted with DynamoDB's AWS owned key, like the module's table by default
  name         = "${var.name}-announced"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "ClientID"

  attribute {
    name = "ClientID"
    type = "S"
  }
}

resource "aws_sqs_queue" "view" {
  name                       = "${var.name}-connectivity-view"
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = 60
  # An announcement the consumer keeps failing to apply waits here, not lost with the
  # queue's retention; send it back with SQS's StartMessageMoveTask.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.view_dead_letter.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "view_dead_letter" {
  name                      = "${var.name}-connectivity-view-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

data "aws_iam_policy_document" "view_queue" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.view.arn]
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

resource "aws_sqs_queue_policy" "view" {
  queue_url = aws_sqs_queue.view.id
  policy    = data.aws_iam_policy_document.view_queue.json
}

resource "aws_cloudwatch_event_target" "view" {
  rule = aws_cloudwatch_event_rule.connectivity.name
  arn  = aws_sqs_queue.view.arn
}

resource "aws_cloudwatch_log_group" "view" {
  # checkov:skip=CKV_AWS_158: CloudWatch Logs' own encryption is enough for an example's logs
  name              = "/aws/lambda/${var.name}-connectivity-view"
  retention_in_days = 30
}

data "aws_iam_policy_document" "view_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "view" {
  name               = "${var.name}-connectivity-view"
  assume_role_policy = data.aws_iam_policy_document.view_assume.json
}

data "aws_iam_policy_document" "view" {
  statement {
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.announced.arn]
  }
  statement {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.view.arn]
  }
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.view.arn}:*"]
  }
}

resource "aws_iam_role_policy" "view" {
  name   = "connectivity-view"
  role   = aws_iam_role.view.id
  policy = data.aws_iam_policy_document.view.json
}

resource "aws_lambda_function" "view" {
  # checkov:skip=CKV_AWS_115: the queue's mapping bounds its concurrency
  function_name = "${var.name}-connectivity-view"
  description   = "Keeps each device's latest announced status, applied by sequence."
  role          = aws_iam_role.view.arn
  runtime       = "provided.al2023"
  handler       = "view"
  architectures = [var.architecture]
  memory_size   = 128
  timeout       = 10
  filename      = module.device_connectivity.lambda_package_path

  environment {
    variables = { VIEW_TABLE_NAME = aws_dynamodb_table.announced.name }
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.view.name
  }

  # The package is built at apply by the module.
  depends_on = [module.device_connectivity, aws_iam_role_policy.view]
}

resource "aws_lambda_event_source_mapping" "view" {
  function_name           = aws_lambda_function.view.arn
  event_source_arn        = aws_sqs_queue.view.arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
}
