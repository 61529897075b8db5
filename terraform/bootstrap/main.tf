# Run once per environment (AWS account), before the first `make plan ENV=<env>`:
# the state bucket of environments/<env>.s3.tfbackend, GitHub's OIDC provider, and the
# two roles CI assumes (no static keys): plan (read-only; GitHub environment <env>-plan,
# used by pull requests and deploys) and apply (GitHub environment <env>, behind its
# approval rules).
provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

module "state" {
  source = "../modules/bucket"

  name       = "qp-terraform-state-${var.environment}"
  versioning = true
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

locals {
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/token.actions.githubusercontent.com"
  state_key         = "queue-patterns/${var.environment}.tfstate"
}

data "aws_iam_policy_document" "trust" {
  for_each = {
    plan  = "repo:${var.github_repository}:environment:${var.environment}-plan"
    apply = "repo:${var.github_repository}:environment:${var.environment}"
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [each.value]
    }
  }
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "ListStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [module.state.arn]
  }
  statement {
    sid       = "ReadWriteStateAndLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.state.arn}/${local.state_key}", "${module.state.arn}/${local.state_key}.tflock"]
  }
}

resource "aws_iam_role" "ci" {
  for_each = data.aws_iam_policy_document.trust

  name               = "qp-${var.environment}-github-${each.key}"
  assume_role_policy = each.value.json
}

resource "aws_iam_role_policy" "state" {
  for_each = aws_iam_role.ci

  name   = "terraform-state"
  role   = each.value.id
  policy = data.aws_iam_policy_document.state.json
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.ci["plan"].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role_policy_attachment" "apply" {
  for_each = toset(var.deploy_policy_arns)

  role       = aws_iam_role.ci["apply"].name
  policy_arn = each.value
}
