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
    resources = ["${local.log_group_arn_prefix}/aws/lambda/${local.counter_name}:*"]
  }
}

module "counter" {
  source = "./modules/function"
  count  = local.counting

  function_name    = local.counter_name
  description      = "Counts the Connected devices of DynamoDB table ${var.table_name} and publishes ConnectedDevices."
  handler          = "counter"
  role_policy_name = "device-connectivity-counter"
  policy           = data.aws_iam_policy_document.counter[0].json
  timeout          = var.timeout
  environment      = merge(local.counter_environment, local.metrics_environment)

  common = local.function_common

  depends_on = [terraform_data.build]
}

# What can change the count: a status change, a first Connected, a removal (TTL). From
# the stream's start, so that nothing written before the mapping existed is missed.
resource "aws_lambda_event_source_mapping" "counter" {
  count = local.counting

  function_name                  = module.counter[0].function_arn
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
  arn  = module.counter[0].function_arn
}

resource "aws_lambda_permission" "count" {
  count = local.counting

  statement_id   = "PublishConnectedDevices"
  action         = "lambda:InvokeFunction"
  function_name  = module.counter[0].function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.count[0].arn
  source_account = local.account_id
}
