# An SNS topic encrypted at rest with the AWS-managed SNS key.
resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_master_key_id
  tags              = var.tags
}
