# One Lambda function the project's way: built from functions/<name>/ (its own
# requirements.txt) plus the shared package, JSON logs, X-Ray, least-privilege role,
# optional SQS trigger with partial batch responses.
#
# This is the only call of the registry module in the tree. Offline runs generate a copy
# of terraform/ in which this source points at ../lambda_standin (same interface).
module "lambda" {
  #checkov:skip=CKV_TF_1:Registry module pinned by version (~> 8.8); .terraform.lock.hcl pins providers, and the offline copy replaces this source.
  source  = "terraform-aws-modules/lambda/aws"
  version = "~> 8.8"

  function_name = "${var.context.name_prefix}-${var.name}"
  description   = var.description
  handler       = var.handler
  runtime       = var.runtime
  architectures = [local.architecture]
  timeout       = var.timeout
  memory_size   = var.memory_size

  # Patterns are regexes over paths relative to each source directory (and the pip target),
  # "!" excludes (the real module's package.py semantics; the stand-in's package.py mirrors them).
  source_path = [
    {
      path             = "${var.context.code_root}/functions/${var.folder}"
      pip_requirements = true
      patterns         = local.package_patterns
    },
    {
      path          = "${var.context.code_root}/shared"
      prefix_in_zip = "shared"
      patterns      = local.package_patterns
    },
  ]
  artifacts_dir = var.context.artifacts_dir
  # Every function builds its own zip: N functions with one source_path would otherwise build
  # one builds/<hash>.zip from N parallel runs. The runtime, architecture and build mode are in
  # the hash too, so a zip built the wrong way gets a new name (and is rebuilt) when the mode changes.
  hash_extra                   = local.hash_extra
  build_in_docker              = var.context.build_in_docker
  docker_image                 = var.context.build_in_docker ? var.context.docker_image : ""
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

  tags = var.context.tags
}

locals {
  architecture = "x86_64"
  hash_extra = join("|", [
    var.context.name_prefix, var.name, var.runtime, local.architecture,
    var.context.build_in_docker ? "docker:${var.context.docker_image}" : "host",
  ])
  # The python3.12 runtime ships boto3/botocore and their dependencies; packing some of them
  # (aws-xray-sdk pulls botocore) would mix SDK versions. Bytecode caches are never packed.
  package_patterns = [
    "!(.*/)?__pycache__/.*",
    "!.*\\.pyc",
    "!(boto3|botocore|s3transfer|jmespath|urllib3|dateutil)/.*",
    "!(boto3|botocore|s3transfer|jmespath|urllib3|python_dateutil|six)-[^/]+\\.dist-info/.*",
    "!six\\.py",
    "!bin/.*",
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
    consume_trigger_queue = {
      effect    = "Allow"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [var.sqs_trigger.queue_arn]
    }
  }
}
