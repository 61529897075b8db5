# Pattern 2 — cron fan-out.
#
#   EventBridge schedule ─▶ counter ──PublishBatch ceil(depth/10)──▶ fan-out topic
#                             │ depth                                    │ one message each
#   producers ─▶ work queue ◀─┘                          worker (long-poll ≤10) ◀─┘
#                     │ invalid after maxReceiveCount            │ BatchWriteItem, key = message id
#                     ▼                                          ▼
#                    DLQ                                      items table
locals {
  functions = "${var.code_root}/functions"
  shared    = "${var.code_root}/shared"
}

module "work_queue" {
  source = "../queue"

  name                       = "${var.name_prefix}-fanout-work"
  visibility_timeout_seconds = 6 * var.worker_timeout
  max_receive_count          = var.max_receive_count
  receive_wait_time_seconds  = var.receive_wait_seconds
  tags                       = var.tags
}

module "items" {
  source = "../table"

  name          = "${var.name_prefix}-fanout-items"
  hash_key      = "message_id"
  ttl_attribute = "expires_at"
  tags          = var.tags
}

module "fanout_topic" {
  source = "../topic"

  name = "${var.name_prefix}-fanout"
  tags = var.tags
}

module "tick" {
  source = "../schedule"

  name                = "${var.name_prefix}-fanout-tick"
  description         = "Starts the fan-out counter"
  schedule_expression = var.schedule_expression
  function_arn        = module.counter.arn
  tags                = var.tags
}

module "counter" {
  source = "../function"

  name              = "${var.name_prefix}-fanout-counter"
  description       = "Publishes one fan-out message per 10 queued work items"
  service           = "fanout-counter"
  metrics_namespace = var.metrics_namespace
  source_dir        = "${local.functions}/fanout_counter"
  shared_dir        = local.shared
  artifacts_dir     = var.artifacts_dir
  timeout           = var.counter_timeout
  environment = {
    WORK_QUEUE_URL   = module.work_queue.url
    FANOUT_TOPIC_ARN = module.fanout_topic.arn
    MAX_WORKERS      = tostring(var.max_workers)
  }
  policy_statements = {
    depth = {
      effect    = "Allow"
      actions   = ["sqs:GetQueueAttributes"]
      resources = [module.work_queue.arn]
    }
    fanout = {
      effect    = "Allow"
      actions   = ["sns:Publish"]
      resources = [module.fanout_topic.arn]
    }
  }
  allowed_triggers = {
    schedule = {
      principal  = "events.amazonaws.com"
      source_arn = module.tick.rule_arn
    }
  }
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

module "worker" {
  source = "../function"

  name                 = "${var.name_prefix}-fanout-worker"
  description          = "Drains up to 10 work items into DynamoDB per fan-out message"
  service              = "fanout-worker"
  metrics_namespace    = var.metrics_namespace
  source_dir           = "${local.functions}/fanout_worker"
  shared_dir           = local.shared
  artifacts_dir        = var.artifacts_dir
  timeout              = var.worker_timeout
  reserved_concurrency = var.worker_concurrency
  environment = {
    WORK_QUEUE_URL       = module.work_queue.url
    ITEMS_TABLE          = module.items.name
    RECEIVE_WAIT_SECONDS = tostring(var.receive_wait_seconds)
  }
  policy_statements = {
    work = {
      effect    = "Allow"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
      resources = [module.work_queue.arn]
    }
    items = {
      effect    = "Allow"
      actions   = ["dynamodb:BatchWriteItem"]
      resources = [module.items.arn]
    }
  }
  allowed_triggers = {
    fanout = {
      principal  = "sns.amazonaws.com"
      source_arn = module.fanout_topic.arn
    }
  }
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

resource "aws_sns_topic_subscription" "worker" {
  topic_arn = module.fanout_topic.arn
  protocol  = "lambda"
  endpoint  = module.worker.arn
}
