# Alarms as code: every DLQ that holds a message, every queue whose oldest message is too
# old, every function error and throttle — all to one SNS alarm topic per environment.
module "topic" {
  source = "../topic"

  name = "${var.name_prefix}-alarms"
  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = module.topic.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  actions = [module.topic.arn]
  function_metrics = merge([
    for f in var.functions : {
      "${f}-errors"    = { function = f, metric = "Errors" }
      "${f}-throttles" = { function = f, metric = "Throttles" }
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = var.queues

  alarm_name          = "${var.name_prefix}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages in ${each.value.dlq_name}: inspect, fix, then redrive (make redrive)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.dlq_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  for_each = { for k, q in var.queues : k => q if q.age_alarm }

  alarm_name          = "${var.name_prefix}-${each.key}-oldest-message-age"
  alarm_description   = "${each.value.name} is not keeping up: its oldest message is older than ${var.max_message_age_seconds}s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.max_message_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = local.function_metrics

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = "${each.value.metric} of ${each.value.function}."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
