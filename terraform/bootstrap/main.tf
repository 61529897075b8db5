# Run once per environment (AWS account), before the first `make plan ENV=<env>`:
# the state bucket (qp-terraform-state-<env>-<account id>, see docs/operations.md),
# GitHub's OIDC provider, and the two roles CI assumes (no static keys):
#   plan  - reads this environment's resources (metadata only, no data) and the state; may
#           write only the state's lock object. Trusted from the GitHub environment
#           <env>-plan (pull-request plans) and from main; prod's only from main.
#   apply - reads and writes the state; trusted only from the GitHub environment <env>,
#           whose deployment branch policy (main) and reviewers gate it.
#   scenarios (dev and stg only, never prod) - runs the end-to-end scenarios against the
#           deployed environment (make test TARGET=aws): reads the state's outputs, invokes
#           the functions and moves test data through this environment's queues, topics,
#           buckets and tables. Trusted only from the GitHub environment <env>-scenarios.
provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Bucket names are global: the account id makes this one ours.
  state_bucket      = "qp-terraform-state-${var.environment}-${local.account_id}"
  state_arn         = "arn:${local.partition}:s3:::${local.state_bucket}" # known at plan: policies are reviewable
  state_key         = "queue-patterns/${var.environment}.tfstate"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"

  # OIDC subjects (the token's sub claim) each role trusts. A job that names a GitHub
  # environment gets sub = repo:<repo>:environment:<name>; one that names none gets
  # sub = repo:<repo>:ref:<ref>. Deploy plans run on main without an environment.
  main_ref = "repo:${var.github_repository}:ref:refs/heads/main"
  subjects = merge(
    {
      plan  = var.environment == "prod" ? [local.main_ref] : ["repo:${var.github_repository}:environment:${var.environment}-plan", local.main_ref]
      apply = ["repo:${var.github_repository}:environment:${var.environment}"]
    },
    var.environment == "prod" ? {} : { scenarios = ["repo:${var.github_repository}:environment:${var.environment}-scenarios"] },
  )

  # What `terraform plan` refreshes: the root's resources, all named <project>-<env>-*.
  prefix = "${var.project}-${var.environment}-"
  arn    = "${local.partition}:%s:${var.region}:${local.account_id}"
  # Those resources by kind: all the plan and scenarios roles may touch, besides the state.
  own = {
    queues     = "arn:${format(local.arn, "sqs")}:${local.prefix}*"
    functions  = "arn:${format(local.arn, "lambda")}:function:${local.prefix}*"
    roles      = "arn:${local.partition}:iam::${local.account_id}:role/${local.prefix}*"
    log_groups = "arn:${format(local.arn, "logs")}:log-group:/aws/lambda/${local.prefix}*"
    buckets    = "arn:${local.partition}:s3:::${local.prefix}*"
    tables     = "arn:${format(local.arn, "dynamodb")}:table/${local.prefix}*"
    topics     = "arn:${format(local.arn, "sns")}:${local.prefix}*"
    alarms     = "arn:${format(local.arn, "cloudwatch")}:alarm:${local.prefix}*"
    rules      = "arn:${format(local.arn, "events")}:rule/${local.prefix}*"
  }
  # The policies those roles may attach: AWS-managed ones and the environment's own.
  attachable_policies = ["arn:${local.partition}:iam::aws:policy/*", "arn:${local.partition}:iam::${local.account_id}:policy/${local.prefix}*"]
}

module "state" {
  source = "../modules/bucket"

  name       = local.state_bucket
  versioning = true
  # Old state versions are the recovery path after a bad apply: keep them for 90 days.
  noncurrent_version_days = 90
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "trust" {
  for_each = local.subjects

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
      values   = each.value
    }
  }
}

# apply: read and write the state and its lock.
data "aws_iam_policy_document" "state_read_write" {
  statement {
    sid       = "ListStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.state_arn]
  }
  statement {
    sid       = "ReadWriteStateAndLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_arn}/${local.state_key}", "${local.state_arn}/${local.state_key}.tflock"]
  }
}

# plan and scenarios: find and read the state (terraform init lists the bucket; the root's
# outputs name what the scenarios use).
data "aws_iam_policy_document" "state_read" {
  statement {
    sid       = "ListStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.state_arn]
  }
  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_arn}/${local.state_key}"]
  }
}

# plan: read the state; write and delete only the lock object (use_lockfile).
data "aws_iam_policy_document" "state_read_lock" {
  source_policy_documents = [data.aws_iam_policy_document.state_read.json]
  statement {
    sid       = "TakeAndReleaseTheLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_arn}/${local.state_key}.tflock"]
  }
}

# plan and scenarios: the configuration of this environment's keys. Key ARNs are ids, so the
# keys are scoped by their aliases instead.
data "aws_iam_policy_document" "keys_read" {
  statement {
    sid       = "KeysOfThisEnvironment"
    actions   = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
    resources = ["arn:${format(local.arn, "kms")}:key/*"]
    condition {
      test     = "ForAnyValue:StringLike"
      variable = "kms:ResourceAliases"
      values   = ["alias/${local.prefix}*"]
    }
  }
}

# plan: the metadata reads `terraform plan` makes to refresh the root's resources, on those
# resources only. No data reads (s3:GetObject, dynamodb:GetItem/Query/Scan,
# sqs:ReceiveMessage, logs:GetLogEvents, kms:Decrypt): unlike ReadOnlyAccess, a pull
# request's plan cannot read what the environment stores.
data "aws_iam_policy_document" "plan_read" {
  source_policy_documents = [data.aws_iam_policy_document.keys_read.json]
  statement {
    sid = "Queues"
    actions = [
      "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:ListDeadLetterSourceQueues",
    ]
    resources = [local.own.queues]
  }
  statement {
    sid = "Functions"
    actions = [
      "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetFunctionConcurrency", "lambda:GetFunctionEventInvokeConfig", "lambda:GetFunctionRecursionConfig",
      "lambda:GetFunctionUrlConfig", "lambda:GetPolicy", "lambda:GetProvisionedConcurrencyConfig",
      "lambda:GetAlias", "lambda:ListAliases", "lambda:ListVersionsByFunction", "lambda:ListTags",
    ]
    resources = [local.own.functions]
  }
  statement {
    sid       = "EventSourceMappings"
    actions   = ["lambda:GetEventSourceMapping", "lambda:ListTags"]
    resources = ["arn:${format(local.arn, "lambda")}:event-source-mapping:*"]
  }
  statement {
    sid = "Roles"
    actions = [
      "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListRoleTags",
    ]
    resources = [local.own.roles]
  }
  statement {
    sid       = "ManagedPolicies"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion"]
    resources = local.attachable_policies
  }
  statement {
    sid       = "LogGroups"
    actions   = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = [local.own.log_groups]
  }
  statement {
    sid = "Buckets"
    actions = [
      "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketCORS",
      "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:GetAccelerateConfiguration", "s3:GetBucketRequestPayment",
      "s3:GetBucketLogging", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
      "s3:GetEncryptionConfiguration", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketTagging",
      "s3:GetBucketOwnershipControls", "s3:GetBucketPublicAccessBlock", "s3:GetBucketNotification",
    ]
    resources = [local.own.buckets]
  }
  statement {
    sid = "Tables"
    actions = [
      "dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTimeToLive",
      "dynamodb:ListTagsOfResource",
    ]
    resources = [local.own.tables]
  }
  statement {
    sid = "Topics"
    actions = [
      "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource",
    ]
    resources = [local.own.topics]
  }
  statement {
    # GetSubscriptionAttributes has no resource type (Service Authorization Reference): a
    # grant on the topics' ARNs authorizes nothing. It reads a subscription's settings only.
    sid       = "Subscriptions"
    actions   = ["sns:GetSubscriptionAttributes"]
    resources = ["*"]
  }
  statement {
    sid       = "Alarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = [local.own.alarms]
  }
  statement {
    sid       = "Schedules"
    actions   = ["events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"]
    resources = [local.own.rules]
  }
  statement {
    sid = "ListsWithoutResourceScope" # these actions support no resource-level permissions
    actions = [
      "sqs:ListQueues", "lambda:ListEventSourceMappings", "logs:DescribeLogGroups", "kms:ListAliases",
      "iam:ListPolicies",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role" "ci" {
  for_each = data.aws_iam_policy_document.trust

  name               = "qp-${var.environment}-github-${each.key}"
  assume_role_policy = each.value.json
}

resource "aws_iam_role_policy" "state" {
  for_each = {
    plan  = data.aws_iam_policy_document.state_read_lock.json
    apply = data.aws_iam_policy_document.state_read_write.json
  }

  name   = "terraform-state"
  role   = aws_iam_role.ci[each.key].id
  policy = each.value
}

resource "aws_iam_role_policy" "plan_read" {
  name   = "read-${var.environment}-resources"
  role   = aws_iam_role.ci["plan"].id
  policy = data.aws_iam_policy_document.plan_read.json
}

resource "aws_iam_role_policy_attachment" "apply" {
  for_each = toset(var.deploy_policy_arns)

  role       = aws_iam_role.ci["apply"].name
  policy_arn = each.value
}

# scenarios: the data-plane calls of tests/test_localstack.py, on this environment's
# <project>-<env>-* resources only (queues, topics, buckets and tables use AWS-managed keys,
# whose key policies let the account's principals use them through those services).
data "aws_iam_policy_document" "scenarios" {
  source_policy_documents = [
    data.aws_iam_policy_document.state_read.json,
    data.aws_iam_policy_document.keys_read.json,
  ]
  statement {
    sid       = "Functions"
    actions   = ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionRecursionConfig"]
    resources = [local.own.functions]
  }
  statement {
    sid       = "Queues"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [local.own.queues]
  }
  statement {
    sid       = "Topics"
    actions   = ["sns:Publish"]
    resources = [local.own.topics]
  }
  statement {
    sid       = "Objects"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.own.buckets}/*"]
  }
  statement {
    sid       = "Buckets" # without ListBucket a missing object answers AccessDenied, not NoSuchKey
    actions   = ["s3:ListBucket"]
    resources = [local.own.buckets]
  }
  statement {
    sid       = "Tables"
    actions   = ["dynamodb:Scan", "dynamodb:GetItem"]
    resources = [local.own.tables]
  }
  # The lease scenarios end their own users' leases (tests/test_localstack.py end_lease): what
  # days without messages and DynamoDB's TTL would do. Only items of those users' ids.
  statement {
    sid       = "ScenarioUsersLeases"
    actions   = ["dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = ["arn:${format(local.arn, "dynamodb")}:table/${local.prefix}sticky-assignments"]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["idle-*", "repair-*"]
    }
  }
  # The repair scenario redrives a DLQ; the URL store scenario returns what it read to the store.
  statement {
    sid       = "Redrive"
    actions   = ["sqs:StartMessageMoveTask"]
    resources = [local.own.queues]
  }
  statement {
    sid       = "UrlStoreVisibility"
    actions   = ["sqs:ChangeMessageVisibility"]
    resources = ["arn:${format(local.arn, "sqs")}:${local.prefix}sticky-url-store"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:FilterLogEvents"]
    resources = [local.own.log_groups]
  }
  statement {
    sid       = "Schedules"
    actions   = ["events:DescribeRule", "events:ListTargetsByRule"]
    resources = [local.own.rules]
  }
  # The queue-rules scenario reads the deployed configuration back (tests/harness/invariants.py):
  statement {
    sid       = "RolesOfThisEnvironment"
    actions   = ["iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies"]
    resources = [local.own.roles]
  }
  statement {
    sid       = "PoliciesTheRolesAttach"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion"]
    resources = local.attachable_policies
  }
  statement {
    sid       = "Alarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = [local.own.alarms]
  }
  statement {
    sid       = "AlarmTopics"
    actions   = ["sns:GetTopicAttributes"]
    resources = [local.own.topics]
  }
  statement {
    sid       = "ListsWithoutResourceScope" # these actions support no resource-level permissions
    actions   = ["sqs:ListQueues", "lambda:ListFunctions", "lambda:ListEventSourceMappings"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "scenarios" {
  count = var.environment == "prod" ? 0 : 1

  name   = "scenarios-${var.environment}"
  role   = aws_iam_role.ci["scenarios"].id
  policy = data.aws_iam_policy_document.scenarios.json
}
