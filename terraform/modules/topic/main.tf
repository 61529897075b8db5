# An SNS topic encrypted at rest (the AWS-managed SNS key unless a customer-managed key is
# given), refusing plain-HTTP requests, optionally publishable by AWS services of this account.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # Known before the topic exists, so its policy and the policies naming it are in the plan.
  arn = "arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.name}"
}

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_master_key_id
  tags              = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["SNS:Publish", "SNS:Subscribe"]
    resources = [local.arn]
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

  # AWS services (e.g. CloudWatch alarms) have no IAM policy of ours: the topic must allow
  # them, only on behalf of this account's resources (confused-deputy guard).
  dynamic "statement" {
    for_each = var.service_publishers
    content {
      sid       = "AllowPublishFrom${replace(title(replace(statement.key, ".", " ")), " ", "")}"
      effect    = "Allow"
      actions   = ["SNS:Publish"]
      resources = [local.arn]
      principals {
        type        = "Service"
        identifiers = [statement.key]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = [statement.value]
      }
    }
  }
}

# Same-account publishers and subscribers are authorised by their IAM policies.
resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.this.json
}

moved {
  from = aws_sns_topic_policy.tls_only
  to   = aws_sns_topic_policy.this
}
