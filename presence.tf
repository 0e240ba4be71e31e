# The presence pipeline: lifecycle events -> the IoT topic rule -> the presence function
# (the `presence` role of the one package) -> one item per client in the table (main.tf).
# Least privilege: the function may update and read items of its own table, write its
# own log group and send to its own failure destination; the rule's error action may
# send to the dead-letter queue. Nothing else.

# --- Lambda -----------------------------------------------------------------

module "presence_function" {
  source = "./modules/function"

  function_name    = local.function_name
  description      = "Keeps the latest connectivity of each AWS IoT Core client in DynamoDB table ${var.table_name}."
  handler          = "presence"
  role_policy_name = "device-connectivity"
  policy           = data.aws_iam_policy_document.function.json
  timeout          = var.timeout
  environment      = local.environment

  reserved_concurrent_executions = var.reserved_concurrent_executions == null ? -1 : var.reserved_concurrent_executions

  common = local.function_common

  depends_on = [terraform_data.build]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = module.presence_function.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = local.dead_letter_queue_arn
    }
  }

  lifecycle {
    precondition {
      condition     = var.package_path == null || var.s3_package == null
      error_message = "Set at most one of package_path and s3_package."
    }
    precondition {
      condition     = !var.metrics_enabled || contains(["TRACE", "DEBUG", "INFO"], var.log_level)
      error_message = "metrics_enabled needs log_level TRACE, DEBUG or INFO: Lambda's level filter drops the metric lines (they have no level) at WARN and above."
    }
  }
}

# --- IoT topic rule ---------------------------------------------------------

resource "aws_iot_topic_rule" "lifecycle" {
  name        = local.rule_name
  description = "AWS IoT lifecycle events to ${local.function_name}"
  enabled     = var.rule_enabled
  sql         = local.rule_sql
  sql_version = "2016-03-23"

  lambda {
    function_arn = module.presence_function.function_arn
  }

  error_action {
    sqs {
      queue_url  = local.dead_letter_queue_url
      role_arn   = aws_iam_role.rule_errors.arn
      use_base64 = false
    }
  }

  tags = var.tags

  # Live only once IoT may invoke the function and the error action may send.
  depends_on = [aws_lambda_permission.iot, aws_iam_role_policy.rule_errors]
}

resource "aws_lambda_permission" "iot" {
  statement_id   = "AllowIoTTopicRule"
  action         = "lambda:InvokeFunction"
  function_name  = module.presence_function.function_name
  principal      = "iot.amazonaws.com"
  source_arn     = local.rule_arn
  source_account = local.account_id
}

# --- Roles ------------------------------------------------------------------

# Who may assume each role: Lambda for the function, IoT for the rule's error action.
# IoT passes aws:SourceAccount and aws:SourceArn when it assumes a rule's role, so that
# role is scoped to this account and this rule (the confused-deputy guard of the AWS IoT
# guide); Lambda does not pass them for execution roles.
data "aws_iam_policy_document" "assume" {
  for_each = {
    function    = "lambda.amazonaws.com"
    rule_errors = "iot.amazonaws.com"
  }

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
    dynamic "condition" {
      for_each = each.key == "rule_errors" ? [local.account_id] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [condition.value]
      }
    }
    dynamic "condition" {
      for_each = each.key == "rule_errors" ? [local.rule_arn] : []
      content {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = [condition.value]
      }
    }
  }
}

data "aws_iam_policy_document" "function" {
  statement {
    sid = "ConnectivityItems"
    # UpdateItem for every write (conditional); GetItem only when a conditional check
    # fails without returning the item.
    actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    resources = [aws_dynamodb_table.connectivity.arn]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn_prefix}${local.log_group_name}:*"]
  }

  dynamic "statement" {
    for_each = var.history_enabled ? [aws_dynamodb_table.history[0].arn] : []
    content {
      sid = "HistoryEvents"
      # PutItem only if the event's key is new: a duplicate rewrites nothing.
      actions   = ["dynamodb:PutItem"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "FailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [local.dead_letter_queue_arn]
  }

  dynamic "statement" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]
    content {
      sid       = "TableKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${data.aws_region.current.id}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.dead_letter_queue_kms_key_arn == null ? [] : [local.dead_letter_queue_kms_key_arn]
    content {
      sid       = "FailureDestinationKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# --- The topic rule's error action ------------------------------------------

resource "aws_iam_role" "rule_errors" {
  name               = "${var.name}-iot-rule-errors"
  assume_role_policy = data.aws_iam_policy_document.assume["rule_errors"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "rule_errors" {
  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [local.dead_letter_queue_arn]
  }

  dynamic "statement" {
    for_each = local.dead_letter_queue_kms_key_arn == null ? [] : [local.dead_letter_queue_kms_key_arn]
    content {
      sid       = "DeadLetterQueueKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "rule_errors" {
  name   = "dead-letter-queue"
  role   = aws_iam_role.rule_errors.id
  policy = data.aws_iam_policy_document.rule_errors.json
}
