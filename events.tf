# Connectivity events (events_enabled): the table's stream is the outbox, the notifier
# turns status changes into announcements on EventBridge, and a disconnect waits out the
# grace period on an SQS delay queue first. Nothing here exists while events are off.

locals {
  events        = var.events_enabled ? 1 : 0
  notifier_name = "${var.name}-device-connectivity-notifier"
  event_bus_arn = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.id}:${local.account_id}:event-bus/${var.event_bus_name}"

  # The notifier needs its own timeout's worth of queue visibility, six times over, as
  # Lambda's SQS guide recommends (retries of a batch stay invisible meanwhile).
  notifier_timeout = var.timeout
}

resource "aws_sqs_queue" "grace_period" {
  count = local.events

  name                       = "${var.name}-device-connectivity-grace"
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = 6 * local.notifier_timeout
  message_retention_seconds  = 345600
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dead_letter_queue_arn
    maxReceiveCount     = 5
  })
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "notifier" {
  count = local.events

  name              = "/aws/lambda/${local.notifier_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "notifier" {
  count = local.events

  name               = "${var.name}-device-connectivity-notifier"
  assume_role_policy = data.aws_iam_policy_document.assume["function"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "notifier" {
  count = local.events

  statement {
    sid = "Announcements"
    # GetItem to decide against the item as it is; UpdateItem to record an announcement
    # (conditional) and to confirm it.
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.connectivity.arn]
  }

  statement {
    sid       = "TableStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [aws_dynamodb_table.connectivity.stream_arn]
  }

  statement {
    sid       = "GraceChecks"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.grace_period[0].arn]
  }

  statement {
    sid       = "Bus"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
  }

  statement {
    sid       = "FailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [local.dead_letter_queue_arn]
  }

  dynamic "statement" {
    for_each = local.dead_letter_queue_kms_key_arn == null ? [] : [local.dead_letter_queue_kms_key_arn]
    content {
      sid       = "FailureDestinationKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]
    content {
      sid       = "TableKey"
      actions   = ["kms:Decrypt", "kms:DescribeKey"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.notifier[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "notifier" {
  count = local.events

  name   = "device-connectivity-notifier"
  role   = aws_iam_role.notifier[0].id
  policy = data.aws_iam_policy_document.notifier[0].json
}

resource "aws_lambda_function" "notifier" {
  # checkov:skip=CKV_AWS_115: its sources bound its concurrency (one batch per stream shard at a time; the grace queue's mapping scales with its backlog); a reservation would only take from the account's pool
  count = local.events

  function_name = local.notifier_name
  description   = substr("Announces device connectivity changes of DynamoDB table ${var.table_name} on EventBridge.", 0, 256)
  role          = aws_iam_role.notifier[0].arn
  runtime       = "provided.al2023"
  handler       = "notifier"
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = local.notifier_timeout

  filename          = local.package.filename
  source_code_hash  = local.package.source_code_hash
  s3_bucket         = local.package.s3_bucket
  s3_key            = local.package.s3_key
  s3_object_version = local.package.s3_object_version

  environment {
    variables = merge({
      TABLE_NAME           = aws_dynamodb_table.connectivity.name
      EVENT_BUS_NAME       = var.event_bus_name
      EVENT_SOURCE         = var.event_source
      GRACE_PERIOD_SECONDS = tostring(var.disconnect_grace_period_seconds)
      GRACE_QUEUE_URL      = aws_sqs_queue.grace_period[0].url
    }, local.metrics_environment)
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.notifier[0].name
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
  }

  tags = var.tags

  depends_on = [
    terraform_data.build,
    aws_cloudwatch_log_group.notifier,
    aws_iam_role_policy.notifier,
  ]
}

# Only status changes invoke the notifier: a client that went from Connected to
# Disconnected or back, or appeared Connected. The notifier's own writes (announcements)
# leave Status alone and are filtered out here.
resource "aws_lambda_event_source_mapping" "stream" {
  count = local.events

  function_name                  = aws_lambda_function.notifier[0].arn
  event_source_arn               = aws_dynamodb_table.connectivity.stream_arn
  starting_position              = "LATEST"
  batch_size                     = 100
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 86400
  function_response_types        = ["ReportBatchItemFailures"]

  filter_criteria {
    dynamic "filter" {
      for_each = local.status_change_patterns
      content {
        pattern = filter.value
      }
    }
  }

  destination_config {
    on_failure {
      destination_arn = local.dead_letter_queue_arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "grace_period" {
  count = local.events

  function_name           = aws_lambda_function.notifier[0].arn
  event_source_arn        = aws_sqs_queue.grace_period[0].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
}
