# An on-demand DynamoDB table with one string hash key, TTL and encryption; in prod also
# deletion protection and point-in-time recovery.
#
# Which environment this is comes from the root's provider default_tags (Environment), so
# every table of every pattern module is protected in prod without threading a flag through
# each module; protect_data overrides it.
data "aws_default_tags" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Known before the table exists, so the policies naming it are in the plan.
  arn     = "arn:${data.aws_partition.current.partition}:dynamodb:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:table/${var.name}"
  protect = coalesce(var.protect_data, lookup(data.aws_default_tags.current.tags, "Environment", "") == "prod")
}

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed KMS key (aws/dynamodb); a customer-managed key adds key-policy upkeep and cost without narrowing who can read these tables (IAM does).
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = var.hash_key

  deletion_protection_enabled = local.protect

  attribute {
    name = var.hash_key
    type = "S"
  }

  ttl {
    attribute_name = var.ttl_attribute
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  point_in_time_recovery {
    enabled = coalesce(var.point_in_time_recovery, local.protect)
  }

  tags = var.tags
}
