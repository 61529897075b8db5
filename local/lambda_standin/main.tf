# Offline stand-in for terraform-aws-modules/lambda/aws 8.8.1: the subset of its
# interface this project uses, same variable and output names, no registry, no
# null/external/local providers. Every resource and data source below has the real
# module's type, name and creation condition (count / for_each), copied from 8.8.1;
# tests/test_terraform.py checks that against tests/reference/. The one substitute:
# terraform_data.archive stands for null_resource.archive (no null provider offline),
# under the same condition. Packaging runs package.py at apply time.
locals {
  create      = var.create && var.putin_khuylo
  create_role = local.create && var.create_function && !var.create_layer && var.create_role

  sources = [for s in flatten([var.source_path]) : {
    path             = s.path
    prefix_in_zip    = try(s.prefix_in_zip, "")
    pip_requirements = try(s.pip_requirements, false)
    patterns         = try(s.patterns, [])
    commands         = try(s.commands, null)
  } if s != null]
  # Like the real module: the file name is a hash of the sources, the runtime and hash_extra,
  # so two calls with the same source_path and hash_extra build the same file.
  source_hash = sha256(join(",", flatten([
    for s in local.sources : [
      for f in sort(fileset(s.path, "**")) : "${s.prefix_in_zip}/${f}:${filesha256("${s.path}/${f}")}"
      if !strcontains(f, "__pycache__")
    ]
  ])))
  content_hash = sha256(join("\n", [local.source_hash, jsonencode(local.sources), var.runtime, var.hash_extra]))
  filename     = "${var.artifacts_dir}/${local.content_hash}.zip"

  role_name      = local.create_role ? coalesce(var.role_name, var.function_name, "*") : null
  policy_name    = coalesce(var.policy_name, local.role_name, "*")
  log_group_arn  = try(aws_cloudwatch_log_group.lambda[0].arn, "")
  log_group_name = try(aws_cloudwatch_log_group.lambda[0].name, "")
}

# --- package (package.tf) -----------------------------------------------------------------

resource "terraform_data" "archive" {
  count = var.create && var.create_package ? 1 : 0

  triggers_replace = [local.filename, var.trigger_on_package_timestamp ? local.source_hash : null]

  provisioner "local-exec" {
    # --record: the spec this function was built from, which `make deploy` rebuilds it with.
    command = "python3 ${path.module}/package.py --output '${local.filename}' --spec '${jsonencode(local.sources)}' --runtime '${var.runtime}' --record '${var.artifacts_dir}/${var.function_name}.package.json'"
  }
}

resource "terraform_data" "package_filename_for_hash" {
  count = var.ignore_source_code_hash ? 0 : 1

  input            = { filename = local.filename }
  triggers_replace = [local.filename]
  depends_on       = [terraform_data.archive]
}

# --- role and policies (iam.tf) -----------------------------------------------------------

data "aws_iam_policy_document" "assume_role" {
  count = local.create_role ? 1 : 0

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count = local.create_role ? 1 : 0

  name               = local.role_name
  assume_role_policy = data.aws_iam_policy_document.assume_role[0].json
  tags               = var.tags
}

data "aws_iam_policy_document" "logs" {
  count = local.create_role && var.attach_cloudwatch_logs_policy ? 1 : 0

  statement {
    effect    = "Allow"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*", "${local.log_group_arn}:*:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  count = local.create_role && var.attach_cloudwatch_logs_policy ? 1 : 0

  name   = "${local.policy_name}-logs"
  role   = aws_iam_role.lambda[0].name
  policy = data.aws_iam_policy_document.logs[0].json
}

# The real module copies the AWS-managed AWSXRayDaemonWriteAccess (data.aws_iam_policy.tracing);
# the stand-in writes the same statement inline.
resource "aws_iam_role_policy" "tracing" {
  count = local.create_role && var.attach_tracing_policy ? 1 : 0

  name = "${local.policy_name}-tracing"
  role = aws_iam_role.lambda[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries",
      ]
      Resource = "*" # X-Ray has no resource-level permissions
    }]
  })
}

data "aws_iam_policy_document" "additional_inline" {
  count = local.create_role && var.attach_policy_statements ? 1 : 0

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = try(statement.value.sid, replace(statement.key, "/[^0-9A-Za-z]*/", ""))
      effect    = try(statement.value.effect, null)
      actions   = try(statement.value.actions, null)
      resources = try(statement.value.resources, null)
    }
  }
}

resource "aws_iam_role_policy" "additional_inline" {
  count = local.create_role && var.attach_policy_statements ? 1 : 0

  name   = "${local.policy_name}-inline"
  role   = aws_iam_role.lambda[0].name
  policy = data.aws_iam_policy_document.additional_inline[0].json
}

# --- function, logs, triggers (main.tf) ---------------------------------------------------

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_158:Same as the registry module's default: CloudWatch Logs encrypts at rest with a service key; a CMK is optional (cloudwatch_logs_kms_key_id).
  count = local.create && var.create_function && !var.create_layer && !var.use_existing_cloudwatch_log_group ? 1 : 0

  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.cloudwatch_logs_retention_in_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Queue-triggered functions dead-letter through their queues' redrive; asynchronously invoked ones (schedule, SNS, relay) heal on the next schedule, so a lost event loses no message.
  #checkov:skip=CKV_AWS_117:No VPC resources are used; a VPC would only add NAT cost and cold-start latency.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile per account; packages are built by CI from the reviewed commit.
  #checkov:skip=CKV_AWS_173:Environment variables hold only resource names and settings, never secrets.
  #checkov:skip=CKV_AWS_50:tracing_config is dynamic as in the real module; modules/function passes tracing_mode = "Active".
  count = local.create && var.create_function && !var.create_layer ? 1 : 0

  function_name                  = var.function_name
  description                    = var.description
  role                           = var.create_role ? aws_iam_role.lambda[0].arn : var.lambda_role
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = var.architectures
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrent_executions
  filename                       = local.filename
  source_code_hash               = var.ignore_source_code_hash ? null : local.source_hash

  dynamic "environment" {
    for_each = length(keys(var.environment_variables)) == 0 ? [] : [true]
    content {
      variables = var.environment_variables
    }
  }

  dynamic "tracing_config" {
    for_each = var.tracing_mode == null ? [] : [true]
    content {
      mode = var.tracing_mode
    }
  }

  logging_config {
    log_format = var.logging_log_format
  }

  tags = var.tags
  depends_on = [
    terraform_data.package_filename_for_hash, aws_iam_role_policy.logs, aws_iam_role_policy.additional_inline,
    aws_cloudwatch_log_group.lambda,
  ]
}

# Lambda's recursive loop detection for this function. 8.8.1 also sets region = var.region
# (aws >= 6 only; the offline provider is 5.100, so the stand-in leaves it out).
resource "aws_lambda_function_recursion_config" "this" {
  count = local.create && var.create_function && !var.create_layer && var.recursive_loop == "Allow" ? 1 : 0

  function_name  = aws_lambda_function.this[0].function_name
  recursive_loop = var.recursive_loop
}

resource "aws_lambda_permission" "unqualified_alias_triggers" {
  for_each = { for k, v in var.allowed_triggers : k => v if local.create && var.create_function && !var.create_layer && var.create_unqualified_alias_allowed_triggers }

  function_name       = aws_lambda_function.this[0].function_name
  statement_id_prefix = try(each.value.statement_id, each.key)
  action              = try(each.value.action, "lambda:InvokeFunction")
  principal           = try(each.value.principal, format("%s.amazonaws.com", try(each.value.service, "")))
  source_arn          = try(each.value.source_arn, null)
}

resource "aws_lambda_event_source_mapping" "this" {
  for_each = { for k, v in var.event_source_mapping : k => v if local.create && var.create_function && !var.create_layer && var.create_unqualified_alias_allowed_triggers }

  function_name                      = aws_lambda_function.this[0].arn
  event_source_arn                   = try(each.value.event_source_arn, null)
  batch_size                         = try(each.value.batch_size, null)
  maximum_batching_window_in_seconds = try(each.value.maximum_batching_window_in_seconds, null)
  enabled                            = try(each.value.enabled, true)
  function_response_types            = try(each.value.function_response_types, null)

  dynamic "scaling_config" {
    for_each = try([each.value.scaling_config], [])
    content {
      maximum_concurrency = try(scaling_config.value.maximum_concurrency, null)
    }
  }
}
