# One Lambda function the project's way: built from functions/<name>/ (its own
# requirements.txt) plus the shared package, JSON logs, X-Ray, least-privilege role,
# optional SQS trigger with partial batch responses.
#
# This is the only call of the registry module in the tree. Offline runs generate a copy
# of terraform/ in which this source points at ../lambda_standin (same interface).
module "lambda" {
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact version (the one tests/reference describes); .terraform.lock.hcl pins providers, and the offline copy replaces this source.
  source  = "terraform-aws-modules/lambda/aws"
  version = "8.8.1"

  function_name = "${var.context.name_prefix}-${var.name}"
  description   = var.description
  handler       = var.handler
  runtime       = var.runtime
  architectures = [local.architecture]
  timeout       = var.timeout
  memory_size   = var.memory_size

  # Two parts, each built by build.py into a directory the module then zips through `patterns`
  # (regexes over paths in the zip, "!" excludes, the last match wins): the function's folder
  # with every package its lock file pins (the AWS SDK included), and shared/ under shared/.
  # The module hashes each part's folder to name the zip; build.py is in hash_extra.
  source_path = [
    {
      path     = "${var.context.code_root}/functions/${var.folder}"
      commands = ["set -e", "out=$(${local.build} --requirements requirements.txt . \"${local.build_dir}/function\")", "cd \"$out\"", ":zip"]
      patterns = local.package_patterns
    },
    {
      path     = "${var.context.code_root}/shared"
      commands = ["set -e", "out=$(${local.build} --prefix shared . \"${local.build_dir}/shared\")", "cd \"$out\"", ":zip . shared"]
      patterns = local.package_patterns
    },
  ]
  artifacts_dir = var.context.artifacts_dir
  # Every function builds its own zip: N functions with one source_path would otherwise build
  # one builds/<hash>.zip from N parallel runs. The runtime, architecture and build script are in
  # the hash too, so a change to any of them gets a new name (and is rebuilt).
  hash_extra                   = local.hash_extra
  trigger_on_package_timestamp = false

  environment_variables = merge(
    {
      POWERTOOLS_SERVICE_NAME      = coalesce(var.service, var.name)
      POWERTOOLS_LOG_LEVEL         = var.log_level
      POWERTOOLS_METRICS_NAMESPACE = var.context.metrics_namespace
    },
    var.environment,
  )
  reserved_concurrent_executions = var.reserved_concurrency

  tracing_mode          = "Active"
  attach_tracing_policy = true

  logging_log_format                = "JSON"
  cloudwatch_logs_retention_in_days = var.context.log_retention_days

  attach_policy_statements = true
  policy_statements        = merge(var.policy_statements, local.trigger_statements)

  # Unpublished function: permissions and the event source mapping attach to $LATEST. In 8.8.1
  # aws_lambda_event_source_mapping.this exists only when this is true, so it stays true.
  create_current_version_allowed_triggers   = false
  create_unqualified_alias_allowed_triggers = true
  allowed_triggers                          = var.allowed_triggers

  event_source_mapping = local.event_source_mapping

  # Lambda's recursive loop detection: "Allow" creates aws_lambda_function_recursion_config
  # (8.8.1 creates it only for "Allow"); null leaves AWS's default, Terminate.
  recursive_loop = var.recursive_loop

}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Known before the function exists, so the subscriptions, targets and policies naming it
  # are in the plan (tests/test_deliveries.py matches each delivery to its permission).
  arn          = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${var.context.name_prefix}-${var.name}"
  architecture = "x86_64"
  build_script = "${path.module}/build.py"
  # Absolute: the module runs each part's commands in that part's folder.
  # -I: the build sees none of the caller's PYTHON* variables (a bytecode prefix, -O).
  build     = "python3.12 -I \"${abspath(local.build_script)}\" --cache \"${abspath(var.context.artifacts_dir)}/deps\""
  build_dir = "${abspath(var.context.artifacts_dir)}/src/${var.context.name_prefix}-${var.name}"
  hash_extra = join("|", [
    var.context.name_prefix, var.name, var.runtime, local.architecture, filesha256(local.build_script),
  ])
  # The AWS services the functions call (shared/clients.py); the zip keeps only their models.
  sdk_services = "dynamodb|lambda|s3|sns|sqs"
  package_patterns = [
    "!botocore/data/(?!(${local.sdk_services})/)[^/]+/.*",
    "!boto3/data/.*",  # resource models: the code uses clients only
    "!pydantic/v1/.*", # pydantic's v1 compatibility layer
    "!aws_lambda_powertools/(event_handler|utilities/(auth_alpha|circuit_breaker|data_masking|feature_flags|kafka|parameters|streaming|validation))/.*",
    "!dateutil/zoneinfo/.*\\.tar\\.gz",      # dateutil's own tz database: botocore uses dateutil.tz only
    "![^/]+\\.dist-info/RECORD",             # pip's uninstall list; METADATA stays for importlib.metadata
    "!(.*/)?[^/]+\\.pyi", "![^/]+-stubs/.*", # type stubs
    "!(.*/)?[^/]+\\.c",                      # C sources beside their compiled extension
  ]

  event_source_mapping = var.sqs_trigger == null ? {} : {
    sqs = merge(
      {
        event_source_arn                   = var.sqs_trigger.queue_arn
        batch_size                         = var.sqs_trigger.batch_size
        maximum_batching_window_in_seconds = var.sqs_trigger.batching_window_seconds
        function_response_types            = ["ReportBatchItemFailures"]
      },
      var.sqs_trigger.maximum_concurrency == null ? {} : {
        scaling_config = { maximum_concurrency = var.sqs_trigger.maximum_concurrency }
      },
    )
  }

  trigger_statements = var.sqs_trigger == null ? {} : {
    consume_trigger_queue = { # what Lambda's SQS poller does with the function's role
      effect    = "Allow"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [var.sqs_trigger.queue_arn]
    }
  }
}
