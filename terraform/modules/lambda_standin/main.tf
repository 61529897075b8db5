# Offline stand-in for terraform-aws-modules/lambda/aws (~> 8.8): the subset of its
# interface this project uses, same variable and output names, no registry, no
# null/external/archive providers. Packaging runs package.py at apply time.
locals {
  zip_path = "${var.artifacts_dir}/${var.function_name}.zip"
  sources = [for s in var.source_path : {
    path             = s.path
    prefix_in_zip    = try(s.prefix_in_zip, "")
    pip_requirements = try(s.pip_requirements, false)
  }]
  source_hash = sha256(join(",", flatten([
    for s in local.sources : [
      for f in sort(fileset(s.path, "**")) : "${s.prefix_in_zip}/${f}:${filesha256("${s.path}/${f}")}"
      if !strcontains(f, "__pycache__")
    ]
  ])))
  log_group_name = "/aws/lambda/${var.function_name}"
}

resource "terraform_data" "package" {
  triggers_replace = [local.source_hash, local.zip_path]

  provisioner "local-exec" {
    command = "python3 ${path.module}/package.py --output '${local.zip_path}' --spec '${jsonencode(local.sources)}'"
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.function_name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Same as the registry module's default: CloudWatch Logs encrypts at rest with a service key; a CMK is optional (cloudwatch_logs_kms_key_id).
  name              = local.log_group_name
  retention_in_days = var.cloudwatch_logs_retention_in_days
  tags              = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.attach_tracing_policy ? [1] : []
    content {
      sid       = "Tracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"] # X-Ray has no resource-level permissions
    }
  }

  dynamic "statement" {
    for_each = var.attach_policy_statements ? var.policy_statements : {}
    content {
      sid       = replace(title(replace(statement.key, "_", " ")), " ", "")
      effect    = try(statement.value.effect, "Allow")
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.function_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Queue-triggered functions dead-letter through their queues' redrive; asynchronously invoked ones (schedule, SNS, relay) heal on the next schedule, so a lost event loses no message.
  #checkov:skip=CKV_AWS_117:No VPC resources are used; a VPC would only add NAT cost and cold-start latency.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile per account; packages are built by CI from the reviewed commit.
  #checkov:skip=CKV_AWS_173:Environment variables hold only resource names and settings, never secrets.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = var.architectures
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrent_executions
  filename                       = local.zip_path
  source_code_hash               = local.source_hash

  environment {
    variables = var.environment_variables
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = var.logging_log_format
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags       = var.tags
  depends_on = [terraform_data.package, aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  for_each = var.event_source_mapping

  function_name                      = aws_lambda_function.this.arn
  event_source_arn                   = each.value.event_source_arn
  batch_size                         = try(each.value.batch_size, null)
  maximum_batching_window_in_seconds = try(each.value.maximum_batching_window_in_seconds, null)
  function_response_types            = try(each.value.function_response_types, null)

  dynamic "scaling_config" {
    for_each = try([each.value.scaling_config], [])
    content {
      maximum_concurrency = scaling_config.value.maximum_concurrency
    }
  }
}

resource "aws_lambda_permission" "unqualified" {
  for_each = var.create_unqualified_alias_allowed_triggers ? var.allowed_triggers : {}

  function_name = aws_lambda_function.this.function_name
  statement_id  = try(each.value.statement_id, each.key)
  action        = try(each.value.action, "lambda:InvokeFunction")
  principal     = try(each.value.principal, "${each.value.service}.amazonaws.com")
  source_arn    = try(each.value.source_arn, null)
}
