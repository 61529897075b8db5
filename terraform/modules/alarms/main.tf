# Alarms as code: every DLQ that holds a message, every queue whose oldest message is too
# old, every function error and throttle — all to one SNS alarm topic per environment.
#
# CloudWatch can publish to an encrypted topic only if the topic's key lets it use the key:
# alias/aws/sns cannot (its policy is AWS's), so the topic has its own customer-managed key
# granting cloudwatch.amazonaws.com, and the topic policy allows it to publish — both only
# for this account's alarms named <name_prefix>-*.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  alarm_arns = "arn:${data.aws_partition.current.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:${var.name_prefix}-*"
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only; it cannot name another resource.
  #checkov:skip=CKV_AWS_111:Key administration is delegated to this account's IAM (the AWS default key policy's root statement, actions listed); CloudWatch's use is conditioned on aws:SourceAccount and aws:SourceArn.
  #checkov:skip=CKV_AWS_109:PutKeyPolicy for the account root keeps the key manageable through IAM (else it is locked); it applies to this key only.
  # Key administration and use are delegated to this account's IAM policies (the deploy
  # role); without this statement the key could become unmanageable. Actions listed, no "*".
  statement {
    sid    = "AccountAdministersTheKeyThroughIam"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
      "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListKeyRotations", "kms:ListResourceTags",
      "kms:PutKeyPolicy", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource",
      "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:Encrypt", "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  # What SNS needs from a publisher to an encrypted topic (SNS key management guide,
  # "compatibility with AWS services"); GenerateDataKey named, not GenerateDataKey*.
  statement {
    sid       = "CloudWatchAlarmsPublishToTheTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarm_arns]
    }
  }
}

resource "aws_kms_key" "topic" {
  description             = "${var.name_prefix} alarm topic (CloudWatch may publish)"
  enable_key_rotation     = true
  deletion_window_in_days = var.key_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "topic" {
  name          = "alias/${var.name_prefix}-alarms"
  target_key_id = aws_kms_key.topic.key_id
}

module "topic" {
  source = "../topic"

  name               = "${var.name_prefix}-alarms"
  kms_master_key_id  = aws_kms_key.topic.arn
  service_publishers = { "cloudwatch.amazonaws.com" = local.alarm_arns }
  tags               = var.tags
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

  alarm_name          = each.key # "<function name>-errors": function names already carry the prefix
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
