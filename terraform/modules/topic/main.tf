# An SNS topic encrypted at rest with the AWS-managed SNS key, refusing plain-HTTP requests.
resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_master_key_id
  tags              = var.tags
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["SNS:Publish", "SNS:Subscribe", "SNS:Receive"]
    resources = [aws_sns_topic.this.arn]
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
}

# Same-account publishers and subscribers are authorised by their IAM policies.
resource "aws_sns_topic_policy" "tls_only" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.tls_only.json
}
