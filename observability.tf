# Alarms and a dashboard on the pipeline (off by default; they cost per alarm and per
# dashboard). The metrics of the module's own code come from EMF log lines
# (metrics_enabled); the rest are the services' own.

locals {
  alarms_enabled = var.alarms != null
  # From the name, not the ARN, so the dashboard and alarms are known at plan.
  dead_letter_queue_name = local.create_dead_letter_queue ? aws_sqs_queue.dead_letter[0].name : element(split(":", var.dead_letter_queue.arn), 5)

  # name => what to watch; an alarm fires on one bad datapoint in 5 minutes (unless it
  # says evaluation_periods), and missing data (no traffic) is not bad (unless it says).
  # Lambda's own metrics of the function: name => [metric, why it matters].
  function_alarms = {
    function-errors               = ["Errors", "The function failed invocations; Lambda retries them, then sends them to the dead-letter queue."]
    function-throttles            = ["Throttles", "Invocations of the function were throttled (reserved concurrency or the account's limit)."]
    async-events-dropped          = ["AsyncEventsDropped", "Lambda dropped asynchronous events without delivering them to the failure destination: they are lost."]
    destination-delivery-failures = ["DestinationDeliveryFailures", "Lambda could not send failed events to the dead-letter queue (permissions, KMS key, queue deleted)."]
  }

  # The table stream's readers, alarmed alike.
  stream_consumers = merge(
    var.events_enabled ? { notifier = {
      function_name = one(module.notifier[*].function_name)
      errors        = "The notifier failed batches; stream batches are retried, then described in the dead-letter queue."
      lag           = "Announcements lag behind the table's stream."
    } } : {},
    var.connected_devices_metric_enabled ? { counter = {
      function_name = one(module.counter[*].function_name)
      errors        = "The counter failed: stream batches are retried, then described in the dead-letter queue (run connectivity recount); a failed publication leaves a gap in ConnectedDevices."
      lag           = "ConnectedDevices lags behind the table's stream."
    } } : {},
  )

  alarm_definitions = merge(
    { for name, alarm in local.function_alarms : name => {
      description = alarm[1]
      namespace   = "AWS/Lambda"
      metric      = alarm[0]
      statistic   = "Sum"
      dimensions  = { FunctionName = module.presence_function.function_name }
      threshold   = 0
    } },
    {
      dead-letter-queue-not-empty = {
        description = "Events wait in the dead-letter queue: re-drive them (connectivity redrive) once the cause is fixed."
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        statistic   = "Maximum"
        dimensions  = { QueueName = local.dead_letter_queue_name }
        threshold   = 0
      }
      table-write-throttles = {
        description = "DynamoDB throttled writes to the table (or, through back pressure, its index)."
        namespace   = "AWS/DynamoDB"
        metric      = "WriteThrottleEvents"
        statistic   = "Sum"
        dimensions  = { TableName = aws_dynamodb_table.connectivity.name }
        threshold   = 0
      }
      rule-action-failures = {
        description = "The IoT rule could not invoke the function; the events went to its error action (the dead-letter queue)."
        namespace   = "AWS/IoT"
        metric      = "Failure"
        statistic   = "Sum"
        dimensions  = { RuleName = aws_iot_topic_rule.lifecycle.name, ActionType = "Lambda" }
        threshold   = 0
      }
      rule-throttled = {
        description = "The IoT rules engine throttled lifecycle events for this rule."
        namespace   = "AWS/IoT"
        metric      = "RuleMessageThrottled"
        statistic   = "Sum"
        dimensions  = { RuleName = aws_iot_topic_rule.lifecycle.name }
        threshold   = 0
      }
    },
    var.status_index_enabled ? {
      status-index-write-throttles = {
        description = "DynamoDB throttled writes to the status index; raise status_index_shards if this follows reconnect storms."
        namespace   = "AWS/DynamoDB"
        metric      = "WriteThrottleEvents"
        statistic   = "Sum"
        dimensions  = { TableName = aws_dynamodb_table.connectivity.name, GlobalSecondaryIndexName = local.status_index }
        threshold   = 0
      }
    } : {},
    { for name, consumer in local.stream_consumers : "${name}-errors" => {
      description = consumer.errors
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      dimensions  = { FunctionName = consumer.function_name }
      threshold   = 0
    } },
    # The notifier's own account of its looks (EMF, metrics_enabled): a look that failed
    # leaves its device owed, and a backlog that outlives the grace period and two
    # reconcile passes means announcements are not getting out.
    var.events_enabled && var.metrics_enabled ? {
      announcements-failed = {
        description = "Announcement looks failed for 15 minutes (DynamoDB or PutEvents errors, a claim past its fence, or a removed device's farewell); the devices stay owed and the reconciler retries them. Runbook: docs/operations.md, Runbooks."
        namespace   = var.metrics_namespace
        metric      = "Failed"
        statistic   = "Sum"
        dimensions  = { Deployment = var.name }
        threshold   = 0
        # Three periods in a row: a burst of throttling, retried by the next pass, pages nobody.
        evaluation_periods = 3
        period             = 300
        treat_missing_data = "notBreaching"
      }
      announcements-backlog-age = {
        description = "A device has owed an announcement for longer than the grace period plus two reconcile intervals: announcements are not getting out. Runbook: docs/operations.md, Runbooks."
        namespace   = var.metrics_namespace
        metric      = "OldestOwedAgeSeconds"
        statistic   = "Maximum"
        dimensions  = { Deployment = var.name }
        # The longest grace of any device class: a sleepy class is owed longer, legitimately.
        threshold = max(var.disconnect_grace_period_seconds, [for o in var.disconnect_grace_period_overrides : o.seconds]...) + 2 * 60 * var.reconcile_interval_minutes
        # Every pass publishes it: no data for a whole interval means no pass ran.
        evaluation_periods = 1
        period             = max(300, 60 * var.reconcile_interval_minutes)
        treat_missing_data = "breaching"
      }
    } : {},
    { for name, consumer in local.stream_consumers : "${name}-iterator-age" => {
      description = consumer.lag
      namespace   = "AWS/Lambda"
      metric      = "IteratorAge"
      statistic   = "Maximum"
      dimensions  = { FunctionName = consumer.function_name }
      threshold   = try(var.alarms.iterator_age_threshold_seconds, 300) * 1000
    } },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  # A for expression, not a conditional: the definitions differ in shape, so they are an
  # object that no empty map could match.
  for_each = { for name, alarm in local.alarm_definitions : name => alarm if local.alarms_enabled }

  alarm_name          = "${var.name}-device-connectivity-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = try(each.value.period, 300)
  evaluation_periods  = try(each.value.evaluation_periods, 1)
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = try(each.value.treat_missing_data, "notBreaching")
  alarm_actions       = var.alarms.alarm_actions
  ok_actions          = var.alarms.ok_actions
  tags                = var.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.dashboard_enabled ? 1 : 0

  dashboard_name = "${var.name}-device-connectivity"
  dashboard_body = jsonencode({
    widgets = [for index, widget in concat(
      [for widget in [
        {
          title   = "Lifecycle events by type and outcome"
          metrics = [[{ expression = "SEARCH('{${var.metrics_namespace},Deployment,EventType,Outcome} Deployment=\"${var.name}\" MetricName=\"Events\"', 'Sum', 60)", id = "events" }]]
          stat    = "Sum"
        },
        {
          title = "Event timestamp to write (ms) and DynamoDB round trips per event"
          metrics = [
            [var.metrics_namespace, "EventLag", "Deployment", var.name, { stat = "p99", label = "lag p99" }],
            [var.metrics_namespace, "EventLag", "Deployment", var.name, { stat = "p50", label = "lag p50" }],
            [var.metrics_namespace, "DynamoDbRoundTrips", "Deployment", var.name, { stat = "Average", yAxis = "right" }],
          ]
          stat = "Average"
        },
      ] : widget if var.metrics_enabled],
      [
        {
          title = "Function"
          metrics = [for metric in ["Invocations", "Errors", "Throttles", "AsyncEventsDropped", "DestinationDeliveryFailures"] :
          ["AWS/Lambda", metric, "FunctionName", module.presence_function.function_name]]
          stat = "Sum"
        },
        {
          title   = "Dead-letter queue"
          metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.dead_letter_queue_name]]
          stat    = "Maximum"
        },
        {
          title = "DynamoDB writes and throttling"
          metrics = [
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", aws_dynamodb_table.connectivity.name],
            ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", aws_dynamodb_table.connectivity.name],
          ]
          stat = "Sum"
        },
      ],
      [for widget in [
        {
          title = "Connected devices, and the counter's stream lag"
          metrics = [
            [var.metrics_namespace, "ConnectedDevices", "Deployment", var.name, { stat = "Maximum" }],
            ["AWS/Lambda", "IteratorAge", "FunctionName", one(module.counter[*].function_name), { stat = "Maximum", yAxis = "right" }],
          ]
          stat = "Maximum"
        },
      ] : widget if var.connected_devices_metric_enabled],
      [for widget in [
        {
          title = "Announcements and the notifier's stream lag"
          metrics = concat(
            var.metrics_enabled ? [for type in ["Device Connected", "Device Disconnected"] :
            [var.metrics_namespace, "Announcements", "Deployment", var.name, "DetailType", type]] : [],
            [["AWS/Lambda", "IteratorAge", "FunctionName", one(module.notifier[*].function_name), { stat = "Maximum", yAxis = "right" }]],
          )
          stat = "Sum"
        },
      ] : widget if var.events_enabled],
      ) : {
      type   = "metric"
      x      = (index % 2) * 12
      y      = floor(index / 2) * 6
      width  = 12
      height = 6
      properties = merge(widget, {
        region = data.aws_region.current.id
        view   = "timeSeries"
        period = 60
      })
    }]
  })
}
