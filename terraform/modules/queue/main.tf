# An SQS queue with its dead-letter queue, encrypted at rest, redrive both ways.
locals {
  suffix = var.fifo ? ".fifo" : ""
  # Known before the queues exist, so the DLQ can name its one allowed source inline and the
  # plan shows the redrive policy (maxReceiveCount) and the ARNs consumers use, for the limits check.
  arn_prefix = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  source_arn = "${local.arn_prefix}:${var.name}${local.suffix}"
  dlq_arn    = "${local.arn_prefix}:${var.name}-dlq${local.suffix}"
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq${local.suffix}"
  fifo_queue                = var.fifo ? true : null
  message_retention_seconds = 1209600 # 14 days: the maximum, to investigate and redrive
  max_message_size          = var.max_message_size
  sqs_managed_sse_enabled   = true
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.source_arn]
  })
  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                        = "${var.name}${local.suffix}"
  fifo_queue                  = var.fifo ? true : null
  content_based_deduplication = var.fifo ? false : null
  visibility_timeout_seconds  = var.visibility_timeout_seconds
  message_retention_seconds   = var.message_retention_seconds
  receive_wait_time_seconds   = var.receive_wait_time_seconds
  max_message_size            = var.max_message_size
  sqs_managed_sse_enabled     = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })
  tags       = var.tags
  depends_on = [aws_sqs_queue.dlq] # SQS checks that the dead-letter queue exists
}

# Both queues refuse plain-HTTP requests; services (SNS topics, S3 buckets) listed in
# allow_send_from may send to the main queue, each only from its own source ARN.
data "aws_iam_policy_document" "this" {
  for_each = { main = local.source_arn, dlq = local.dlq_arn }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "main" ? var.allow_send_from : []
    content {
      sid       = "AllowSend${statement.key}"
      actions   = ["sqs:SendMessage"]
      resources = [each.value]
      principals {
        type        = "Service"
        identifiers = [statement.value.service]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [statement.value.source_arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  for_each = { main = aws_sqs_queue.this.id, dlq = aws_sqs_queue.dlq.id }

  queue_url = each.value
  policy    = data.aws_iam_policy_document.this[each.key].json
}
