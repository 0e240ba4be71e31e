# Least privilege: the function may update and read items of its own table, write its
# own log group and send to its own failure destination; the rule's error action may
# send to the dead-letter queue. Nothing else.

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

resource "aws_iam_role" "function" {
  name               = "${var.name}-device-connectivity"
  assume_role_policy = data.aws_iam_policy_document.assume["function"].json
  tags               = var.tags
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
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
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

resource "aws_iam_role_policy" "function" {
  name   = "device-connectivity"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
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
