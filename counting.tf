# The exact count of Connected devices (connected_devices_metric_enabled): a counter
# function reads the table's stream into a small counts table (a tally per client and
# counter shards, changed together in one transaction), and once a minute publishes the
# shards' sum as the ConnectedDevices metric. Nothing here exists while it is off.

locals {
  counting     = var.connected_devices_metric_enabled ? 1 : 0
  counter_name = "${var.name}-device-connectivity-counter"
  counts_table = "${var.table_name}-counts"

  counter_environment = var.connected_devices_metric_enabled ? {
    COUNTS_TABLE_NAME = local.counts_table
    COUNTER_SHARDS    = tostring(var.connected_devices_counter_shards)
  } : {}
}

resource "aws_dynamodb_table" "counts" {
  count = local.counting

  name = local.counts_table
  # Writes follow status changes, in bursts during reconnect storms: on demand.
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "Key"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "Key"
    type = "S"
  }

  # Tombstones of removed items, once no older stream record can arrive.
  ttl {
    attribute_name = "ExpiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = var.table_kms_key_arn != null
    kms_key_arn = var.table_kms_key_arn
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.metrics_enabled
      error_message = "connected_devices_metric_enabled publishes into the module's metrics: set metrics_enabled = true too."
    }
    precondition {
      condition     = length(local.counts_table) <= 255
      error_message = "With connected_devices_metric_enabled, table_name may have at most 248 characters (the counts table adds \"-counts\")."
    }
    precondition {
      condition     = length(local.counter_name) <= 64
      error_message = "With connected_devices_metric_enabled, name may have at most 36 characters: the counter's function and role \"<name>-device-connectivity-counter\" must fit the 64 characters AWS allows."
    }
  }
}

resource "aws_cloudwatch_log_group" "counter" {
  count = local.counting

  name              = "/aws/lambda/${local.counter_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "counter" {
  count = local.counting

  name               = "${var.name}-device-connectivity-counter"
  assume_role_policy = data.aws_iam_policy_document.assume["function"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "counter" {
  count = local.counting

  statement {
    sid = "Counts"
    # A tally and its counter shard change in one TransactWriteItems, which needs the
    # item actions; a tally alone is an UpdateItem or DeleteItem. BatchGetItem sums the
    # shards, Scan is for nobody: `connectivity recount` runs as the operator.
    actions   = ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.counts[0].arn]
  }

  statement {
    sid       = "TableStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [aws_dynamodb_table.connectivity.stream_arn]
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
      actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.counter[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "counter" {
  count = local.counting

  name   = "device-connectivity-counter"
  role   = aws_iam_role.counter[0].id
  policy = data.aws_iam_policy_document.counter[0].json
}

resource "aws_lambda_function" "counter" {
  # checkov:skip=CKV_AWS_115: its sources bound its concurrency (one batch per stream shard at a time, and the schedule once a minute); a reservation would only take from the account's pool
  count = local.counting

  function_name = local.counter_name
  description   = substr("Counts the Connected devices of DynamoDB table ${var.table_name} and publishes ConnectedDevices.", 0, 256)
  role          = aws_iam_role.counter[0].arn
  runtime       = "provided.al2023"
  handler       = "counter"
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  filename          = local.package.filename
  source_code_hash  = local.package.source_code_hash
  s3_bucket         = local.package.s3_bucket
  s3_key            = local.package.s3_key
  s3_object_version = local.package.s3_object_version

  environment {
    variables = merge(local.counter_environment, local.metrics_environment)
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.counter[0].name
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
  }

  tags = var.tags

  depends_on = [
    terraform_data.build,
    aws_cloudwatch_log_group.counter,
    aws_iam_role_policy.counter,
  ]
}

# What can change the count: a status change, a first Connected, a removal (TTL). From
# the stream's start, so that nothing written before the mapping existed is missed.
resource "aws_lambda_event_source_mapping" "counter" {
  count = local.counting

  function_name                  = aws_lambda_function.counter[0].arn
  event_source_arn               = aws_dynamodb_table.connectivity.stream_arn
  starting_position              = "TRIM_HORIZON"
  batch_size                     = 100
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 86400
  function_response_types        = ["ReportBatchItemFailures"]

  filter_criteria {
    dynamic "filter" {
      for_each = concat(local.status_change_patterns, [jsonencode({ eventName = ["REMOVE"] })])
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

resource "aws_cloudwatch_event_rule" "count" {
  count = local.counting

  name                = "${var.name}-device-connectivity-count"
  description         = "Publishes the ConnectedDevices metric of ${var.table_name}."
  schedule_expression = "rate(1 minute)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "count" {
  count = local.counting

  rule = aws_cloudwatch_event_rule.count[0].name
  arn  = aws_lambda_function.counter[0].arn
}

resource "aws_lambda_permission" "count" {
  count = local.counting

  statement_id   = "PublishConnectedDevices"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.counter[0].function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.count[0].arn
  source_account = local.account_id
}
