# Connectivity announcements of the root module paged to PagerDuty (Events API v2) by the
# `pager` role of the root module's one bootstrap package. An EventBridge rule queues
# every device and fleet announcement; the function reads the queue, keeps one item per
# incident key in its table (so a resolve is sent only after its trigger was accepted,
# and a storm's devices wait to be folded into one page), paces the calls per routing key,
# and a pass every minute sends what waited. The routing keys stay in Secrets Manager:
# the module only references their ARNs, so no key is ever in Terraform state.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  function_name = "${var.name}-pager"
  account_id    = data.aws_caller_identity.current.account_id
  # Built from its name: known at plan, and no reference into the function module
  # whose policy needs it.
  log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.id}:${local.account_id}:log-group:/aws/lambda/${local.function_name}"

  # Six times the function's timeout, as Lambda's SQS guide recommends.
  function_timeout = 30

  # The pages table's sparse index of the keys owing a post (function/src/paging/store.rs).
  owed_index = "ByOwed"

  # Each route with the default route's key and severity filled in.
  routes = [for route in var.routes : {
    thing_group            = route.thing_group
    thing_type             = route.thing_type
    attribute              = route.attribute
    routing_key_secret_arn = coalesce(route.routing_key_secret_arn, var.routing_key_secret_arn)
    severity               = coalesce(route.severity, var.severity)
  }]
  routes_json = jsonencode(local.routes)
  secret_arns = distinct(concat([var.routing_key_secret_arn], [for route in local.routes : route.routing_key_secret_arn]))

  # A local, not inline in the module call: the queues' URLs are known only at apply and
  # leave the function's whole environment unknown at plan; the plan tests read the rest
  # of it here.
  environment = {
    PAGER_TABLE_NAME                 = aws_dynamodb_table.pages.name
    PAGER_QUEUE_URL                  = aws_sqs_queue.pages.url
    PAGER_DEAD_LETTER_QUEUE_URL      = aws_sqs_queue.dead_letter.url
    PAGERDUTY_EVENTS_URL             = var.events_url
    PAGERDUTY_ROUTING_KEY_SECRET_ARN = var.routing_key_secret_arn
    PAGERDUTY_SEVERITY               = var.severity
    PAGERDUTY_ROUTES                 = local.routes_json
    PAGE_MAINTENANCE                 = tostring(var.page_maintenance)
    PAGERDUTY_RATE_PER_MINUTE        = tostring(var.rate_per_minute)
    PAGER_STORM_WAIT_SECONDS         = tostring(var.storm_wait_seconds)
    PAGER_DEPLOYMENT                 = var.name
  }

  # What ../function needs besides the function's own settings.
  function_common = {
    package = {
      filename          = var.lambda_package.filename
      source_code_hash  = var.lambda_package.source_code_hash
      s3_bucket         = var.lambda_package.s3_bucket
      s3_key            = var.lambda_package.s3_key
      s3_object_version = var.lambda_package.s3_object_version
    }
    architecture          = var.lambda_package.architecture
    memory_size           = var.memory_size
    log_retention_in_days = var.log_retention_in_days
    log_kms_key_arn       = var.log_kms_key_arn
    log_level             = var.log_level
    system_log_level      = "INFO"
    assume_role_policy    = data.aws_iam_policy_document.assume.json
    tags                  = var.tags
  }
}

# --- State: one item per incident key -----------------------------------------

resource "aws_dynamodb_table" "pages" {
  name         = "${var.name}-pages"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "key"

  attribute {
    name = "key"
    type = "S"
  }

  attribute {
    name = "owed"
    type = "S"
  }

  # The keys owing a post (owed = "1"): sparse, so the pass reads what is owed, never
  # every incident.
  global_secondary_index {
    name            = local.owed_index
    hash_key        = "owed"
    projection_type = "KEYS_ONLY"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  # DynamoDB's AWS owned key, as the root module's tables by default: encrypted at rest,
  # no KMS charges (docs/security.md). The items hold incident keys and states, no secret.
  server_side_encryption {
    enabled = false
  }

  tags = var.tags

  lifecycle {
    # Lambda allows 4 KB of environment in all; the routes take most of it.
    precondition {
      condition     = length(local.routes_json) <= 3000
      error_message = "routes are too many for the function's environment: Lambda allows 4 KB in all, and the routes as JSON take ${length(local.routes_json)} characters of at most 3000. Use fewer routes."
    }
  }
}

# --- Queues -------------------------------------------------------------------

# The announcements, and the function's own delayed checks. A message PagerDuty refused
# (400), or one that failed 50 receives, moves to the dead-letter queue.
resource "aws_sqs_queue" "pages" {
  name                       = "${var.name}-pages"
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = 6 * local.function_timeout
  message_retention_seconds  = 345600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = 50
  })
  tags = var.tags
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-pages-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
  tags                      = var.tags
}

# Only the announcements rule may send (EventBridge targets need the queue policy).
data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "AnnouncementsRule"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.pages.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.announcements.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "pages" {
  queue_url = aws_sqs_queue.pages.id
  policy    = data.aws_iam_policy_document.queue.json
}

# --- Announcements -> queue ---------------------------------------------------------

resource "aws_cloudwatch_event_rule" "announcements" {
  name           = "${var.name}-pager-announcements"
  description    = "Connectivity announcements of ${var.event_source} to page on."
  event_bus_name = var.event_bus_name
  event_pattern = jsonencode({
    source        = [var.event_source]
    "detail-type" = ["Device Connected", "Device Disconnected", "Fleet Connectivity Degraded", "Fleet Connectivity Restored"]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "announcements" {
  rule           = aws_cloudwatch_event_rule.announcements.name
  event_bus_name = var.event_bus_name
  target_id      = "pages"
  arn            = aws_sqs_queue.pages.arn

  # No announcement before the queue accepts the rule's messages.
  depends_on = [aws_sqs_queue_policy.pages]
}

# --- The function ---------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "Pages"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.pages.arn]
  }

  statement {
    sid       = "OwedPages"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.pages.arn}/index/${local.owed_index}"]
  }

  statement {
    sid       = "PagesQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:SendMessage"]
    resources = [aws_sqs_queue.pages.arn]
  }

  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  # The routing keys: only the secrets named, never "*".
  statement {
    sid       = "RoutingKeys"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }

  dynamic "statement" {
    for_each = length(var.secret_kms_key_arns) > 0 ? [var.secret_kms_key_arns] : []
    content {
      sid       = "RoutingKeysKeys"
      actions   = ["kms:Decrypt"]
      resources = statement.value
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.id}.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }
}

module "pager_function" {
  source = "../function"

  function_name    = local.function_name
  description      = "Pages PagerDuty on the connectivity announcements of ${var.event_source} (deployment ${var.name})."
  handler          = "pager"
  role_policy_name = "pager"
  policy           = data.aws_iam_policy_document.function.json
  timeout          = local.function_timeout
  environment      = local.environment

  common = local.function_common
}

resource "aws_lambda_event_source_mapping" "pages" {
  function_name           = module.pager_function.function_arn
  event_source_arn        = aws_sqs_queue.pages.arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  # Two at a time at most (the least SQS allows): the calls per routing key are paced
  # against the table, and a mass outage must not fan out into hundreds of invocations.
  scaling_config {
    maximum_concurrency = 2
  }
}

# --- The pass: every minute, send what waited ------------------------------------------

# Schedules run on the default bus only.
resource "aws_cloudwatch_event_rule" "pass" {
  name                = "${var.name}-pager-pass"
  description         = "Sends the pages of ${var.name} that waited (storm wait, rate, an earlier failure)."
  schedule_expression = "rate(1 minute)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "pass" {
  rule      = aws_cloudwatch_event_rule.pass.name
  target_id = "pager"
  arn       = module.pager_function.function_arn
  input     = jsonencode({ pagerPass = true })
}

resource "aws_lambda_permission" "pass" {
  statement_id   = "PagerPass"
  action         = "lambda:InvokeFunction"
  function_name  = module.pager_function.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.pass.arn
  source_account = local.account_id
}

# A failed pass is not retried: the next one comes within a minute, and a retry would
# overlap it.
resource "aws_lambda_function_event_invoke_config" "pass" {
  function_name          = module.pager_function.function_name
  maximum_retry_attempts = 0
}

# --- Failures show ----------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-pager-dead-letters"
  alarm_description   = "Pages wait in ${aws_sqs_queue.dead_letter.name}: PagerDuty refused them (400, its message is kept) or announcements the pager failed to record 50 times. Fix the cause, then move them back with aws sqs start-message-move-task."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  statistic           = "Maximum"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}
