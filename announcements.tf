# Connectivity events (events_enabled): the table's stream is the outbox, the notifier
# turns status changes into announcements on EventBridge, and a disconnect waits out the
# grace period on an SQS delay queue first. Nothing here exists while events are off.

locals {
  events        = var.events_enabled ? 1 : 0
  notifier_name = "${var.name}-device-connectivity-notifier"
  event_bus_arn = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.id}:${local.account_id}:event-bus/${var.event_bus_name}"

  # A minute at least: a pass over many owed items under a slow dependency stops starting
  # looks 8 s before it, so it ends in time (function/src/roles/notifier.rs). The queue's
  # visibility is six times that, as Lambda's SQS guide recommends.
  notifier_timeout = max(var.timeout, 60)

  # A local, not inline in the module call: the queue's URL leaves the function's whole
  # environment unknown at plan, and the plan tests read the rest of it here.
  notifier_environment = merge(
    {
      TABLE_NAME           = aws_dynamodb_table.connectivity.name
      EVENT_BUS_NAME       = var.event_bus_name
      EVENT_SOURCE         = var.event_source
      GRACE_PERIOD_SECONDS = tostring(var.disconnect_grace_period_seconds)
      GRACE_QUEUE_URL      = one(aws_sqs_queue.grace_period[*].url)
      MAX_CONCURRENT_PUTS  = tostring(var.announcement_max_concurrent_puts)
    },
    local.metrics_environment,
    var.item_ttl_days == null ? {} : { ITEM_TTL_SECONDS = tostring(var.item_ttl_days * 86400) },
    # Routing and storms: each setting reaches the notifier only when it is on.
    var.thing_context_enabled ? { THING_CONTEXT = "true" } : {},
    length(var.disconnect_grace_period_overrides) > 0 ? { GRACE_OVERRIDES = jsonencode(var.disconnect_grace_period_overrides) } : {},
    # From the table, not the local: the notifier is created after its fleet table.
    local.fleet == 1 ? { FLEET_TABLE_NAME = one(aws_dynamodb_table.fleet[*].name) } : {},
    var.storm_digest == null ? {} : { STORM_DIGEST = jsonencode(var.storm_digest) },
  )
  # DescribeThing and ListThingGroupsForThing authorise on the thing.
  thing_arns = "arn:${data.aws_partition.current.partition}:iot:${data.aws_region.current.id}:${local.account_id}:thing/*"
}

# A grace check is only a hint to look at a client when its grace period ends; a failed
# one backs off (ChangeMessageVisibility: 30 s doubling to 15 min), so its 12 receives
# span hours, and the reconciler settles whatever it leaves anyway.
resource "aws_sqs_queue" "grace_period" {
  count = local.events

  name                       = "${var.name}-device-connectivity-grace"
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = 6 * local.notifier_timeout
  message_retention_seconds  = 345600
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dead_letter_queue_arn
    maxReceiveCount     = 12
  })
  tags = var.tags
}

data "aws_iam_policy_document" "notifier" {
  count = local.events

  statement {
    sid = "Announcements"
    # GetItem to decide against the item as it is; UpdateItem to record an announcement
    # (conditional), to confirm it and to settle the item.
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.connectivity.arn]
  }

  statement {
    sid       = "OwedAnnouncements"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.connectivity.arn}/index/${local.owed_index}"]
  }

  statement {
    sid       = "TableStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [aws_dynamodb_table.connectivity.stream_arn]
  }

  statement {
    sid       = "GraceChecks"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
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

  # thing_context_enabled: the registry data of this account's things, read only.
  dynamic "statement" {
    for_each = var.thing_context_enabled ? [local.thing_arns] : []
    content {
      sid       = "ThingRegistry"
      actions   = ["iot:DescribeThing", "iot:ListThingGroupsForThing"]
      resources = [statement.value]
    }
  }

  # Maintenance windows and storms: their items in the fleet table (Query reads a
  # partition: the windows, or one group's storm and its members; the reconciler's pass
  # Scans it for every storm group).
  dynamic "statement" {
    for_each = local.fleet == 1 ? [local.fleet_table_arn] : []
    content {
      sid       = "FleetState"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"]
      resources = [statement.value]
    }
  }

  # Storms: the reconciler's pass reads the status of an open storm's members, 100 at a
  # time, to take out those whose device is back or gone.
  dynamic "statement" {
    for_each = var.storm_digest == null ? [] : [aws_dynamodb_table.connectivity.arn]
    content {
      sid       = "StormMembers"
      actions   = ["dynamodb:BatchGetItem"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn_prefix}/aws/lambda/${local.notifier_name}:*"]
  }
}

module "notifier" {
  source = "./modules/function"
  count  = local.events

  function_name    = local.notifier_name
  description      = "Announces device connectivity changes of DynamoDB table ${var.table_name} on EventBridge."
  handler          = "notifier"
  role_policy_name = "device-connectivity-notifier"
  policy           = data.aws_iam_policy_document.notifier[0].json
  timeout          = local.notifier_timeout
  environment      = local.notifier_environment

  common = local.function_common

  depends_on = [terraform_data.build]
}

# Every write that leaves an item owing an announcement wakes the notifier: presence
# writes mark the item (OwedShard), and so does a confirmed announcement whose item moved
# on meanwhile. Its own claims (pending) and settlements (mark removed) are filtered out.
# Such a record is only a hint to look: what the notifier could not settle stays marked
# for the reconciler. The removal of an item last announced Connected (or with an
# announcement pending) passes too: its final Device Disconnected has no other signal, so
# a removal that could not be announced is reported (ReportBatchItemFailures), retried,
# and after its retries described in the dead-letter queue.
resource "aws_lambda_event_source_mapping" "stream" {
  count = local.events

  function_name                  = module.notifier[0].function_arn
  event_source_arn               = aws_dynamodb_table.connectivity.stream_arn
  starting_position              = "LATEST"
  batch_size                     = 100
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 86400
  function_response_types        = ["ReportBatchItemFailures"]

  filter_criteria {
    filter {
      pattern = jsonencode({ dynamodb = { NewImage = {
        OwedShard           = { S = [{ exists = true }] }
        AnnouncementPending = { BOOL = [{ exists = false }] }
      } } })
    }
    filter {
      pattern = jsonencode({ eventName = ["REMOVE"], dynamodb = { OldImage = {
        AnnouncedStatus = { S = ["Connected"] }
      } } })
    }
    filter {
      pattern = jsonencode({ eventName = ["REMOVE"], dynamodb = { OldImage = {
        AnnouncementPending = { BOOL = [{ exists = true }] }
      } } })
    }
  }

  destination_config {
    on_failure {
      destination_arn = local.dead_letter_queue_arn
    }
  }
}

# The reconciler: the notifier looks at every item the owed index holds, so nothing
# waits on a device's next event after an outage of EventBridge, SQS or DynamoDB.
resource "aws_cloudwatch_event_rule" "reconcile" {
  count = local.events

  name                = "${var.name}-device-connectivity-reconcile"
  description         = "Settles the announcements owed by devices of ${var.table_name}."
  schedule_expression = var.reconcile_interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.reconcile_interval_minutes} minutes)"
  tags                = var.tags

  lifecycle {
    # The longest name the module builds; the notifier's function and role are one shorter.
    precondition {
      condition     = length("${var.name}-device-connectivity-reconcile") <= 64
      error_message = "With events_enabled, name may have at most 34 characters: the reconcile rule \"<name>-device-connectivity-reconcile\" and the notifier's function and role must fit the 64 characters AWS allows."
    }
  }
}

resource "aws_cloudwatch_event_target" "reconcile" {
  count = local.events

  rule = aws_cloudwatch_event_rule.reconcile[0].name
  arn  = module.notifier[0].function_arn
}

resource "aws_lambda_permission" "reconcile" {
  count = local.events

  statement_id   = "ReconcileAnnouncements"
  action         = "lambda:InvokeFunction"
  function_name  = module.notifier[0].function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.reconcile[0].arn
  source_account = local.account_id
}

# Grace checks of a mass outage arrive together once their grace period ends; the
# mapping's maximum concurrency keeps them from scaling the notifier to hundreds of
# invocations (each with max_concurrent_puts requests in flight) past the PutEvents quota.
resource "aws_lambda_event_source_mapping" "grace_period" {
  count = local.events

  function_name           = module.notifier[0].function_arn
  event_source_arn        = aws_sqs_queue.grace_period[0].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.grace_check_max_concurrency
  }
}

# The schedule invokes the notifier asynchronously; a failed pass is not retried, since
# the next one comes within an interval anyway and retries would overlap it.
resource "aws_lambda_function_event_invoke_config" "notifier" {
  count = local.events

  function_name          = module.notifier[0].function_name
  maximum_retry_attempts = 0
}
