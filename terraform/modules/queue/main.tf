# An SQS queue with its dead-letter queue, encrypted at rest, redrive both ways.
locals {
  suffix = var.fifo ? ".fifo" : ""
  # Known before the queue exists, so the DLQ can name its one allowed source inline.
  source_arn = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.name}${local.suffix}"
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
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

# Services (SNS topics, S3 buckets) allowed to send, each only from its own source ARN.
data "aws_iam_policy_document" "senders" {
  count = length(var.allow_send_from) > 0 ? 1 : 0

  dynamic "statement" {
    for_each = var.allow_send_from
    content {
      sid       = "AllowSend${statement.key}"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.this.arn]
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

resource "aws_sqs_queue_policy" "senders" {
  count = length(var.allow_send_from) > 0 ? 1 : 0

  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.senders[0].json
}
