# Pattern 4 — SNS preprocessor / services.
#
#   client ─invoke─▶ preprocessor ──requests/<id>/preprocessor.json──▶ S3
#                        │ {request_id}, service=<entry>
#                        ▼
#                  connector topic ──filter service ∈ {<name>, all}──▶ queue <name> ──▶ service <name>
#                        ▲                                                                │ reads its input stage,
#                        └──────── {request_id}, service=<next> (if any) ◀────────────────┤ writes requests/<id>/<name>.json
#                                                                                         ▼
#                  notifier topic ◀── ServiceResult (S3 pointer when > 256 KiB) ──────────┘
#                        └──▶ results queue (raw delivery) for downstream consumers
data "aws_caller_identity" "current" {}

module "documents" {
  source = "../bucket"

  name            = "${var.context.name_prefix}-workflow-${data.aws_caller_identity.current.account_id}"
  force_destroy   = var.force_destroy
  expire_prefixes = { "payloads/" = var.payload_retention_days }
}

module "connector" {
  source = "../topic"

  name = "${var.context.name_prefix}-workflow-connector"
}

module "notifier" {
  source = "../topic"

  name = "${var.context.name_prefix}-workflow-notifier"
}

module "preprocessor" {
  source  = "../function"
  context = var.context

  name        = "workflow-preprocessor"
  description = "Stores a request's input document and starts the workflow"
  folder      = "workflow_preprocessor"
  timeout     = var.preprocessor_timeout
  environment = {
    DOCUMENT_BUCKET     = module.documents.name
    CONNECTOR_TOPIC_ARN = module.connector.arn
    ENTRY_SERVICE       = var.entry_service
    IDEMPOTENCY_TABLE   = var.idempotency_table_name
  }
  policy_statements = {
    documents = {
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = ["${module.documents.arn}/requests/*"]
    }
    connector = {
      effect    = "Allow"
      actions   = ["sns:Publish"]
      resources = [module.connector.arn]
    }
    idempotency = { # a start with a client idempotency_key: one Powertools record per key
      effect    = "Allow"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [var.idempotency_table_arn]
    }
  }
}

module "service_queue" {
  source   = "../queue"
  for_each = var.services

  name                       = "${var.context.name_prefix}-workflow-${each.key}"
  visibility_timeout_seconds = 6 * var.service_timeout
  max_receive_count          = var.max_receive_count
  allow_send_from            = [{ service = "sns.amazonaws.com", source_arn = module.connector.arn }]
}

resource "aws_sns_topic_subscription" "service" {
  for_each = var.services

  topic_arn     = module.connector.arn
  protocol      = "sqs"
  endpoint      = module.service_queue[each.key].arn
  filter_policy = jsonencode({ service = [each.key, "all"] })
}

module "service" {
  source   = "../function"
  context  = var.context
  for_each = var.services

  name        = "workflow-${each.key}"
  description = "Workflow service ${each.key}: ${each.value.input_stage} -> ${each.key}"
  folder      = each.value.source
  timeout     = var.service_timeout
  environment = {
    SERVICE_NAME        = each.key
    INPUT_STAGE         = each.value.input_stage
    NEXT_SERVICE        = each.value.next
    DOCUMENT_BUCKET     = module.documents.name
    NOTIFIER_TOPIC_ARN  = module.notifier.arn
    CONNECTOR_TOPIC_ARN = module.connector.arn
  }
  policy_statements = merge(
    {
      read_input = {
        effect    = "Allow"
        actions   = ["s3:GetObject"]
        resources = ["${module.documents.arn}/requests/*"]
      }
      write_output = {
        effect    = "Allow"
        actions   = ["s3:PutObject"]
        resources = ["${module.documents.arn}/requests/*", "${module.documents.arn}/payloads/*"]
      }
      # Lets GetObject answer NoSuchKey instead of AccessDenied (unconditioned: that implicit
      # check carries no s3:prefix).
      missing_input = {
        effect    = "Allow"
        actions   = ["s3:ListBucket"]
        resources = [module.documents.arn]
      }
      notify = { # sns:Publish also authorizes PublishBatch
        effect    = "Allow"
        actions   = ["sns:Publish"]
        resources = [module.notifier.arn]
      }
    },
    each.value.next == "" ? {} : {
      hand_on = {
        effect    = "Allow"
        actions   = ["sns:Publish"]
        resources = [module.connector.arn]
      }
    },
  )
  sqs_trigger = {
    queue_arn               = module.service_queue[each.key].arn
    batch_size              = var.service_batch_size
    batching_window_seconds = var.service_batching_window_seconds
  }
}

module "results_queue" {
  source = "../queue"

  name                       = "${var.context.name_prefix}-workflow-results"
  visibility_timeout_seconds = 60
  max_receive_count          = var.max_receive_count
  allow_send_from            = [{ service = "sns.amazonaws.com", source_arn = module.notifier.arn }]
}

resource "aws_sns_topic_subscription" "results" {
  topic_arn            = module.notifier.arn
  protocol             = "sqs"
  endpoint             = module.results_queue.arn
  raw_message_delivery = true
}
