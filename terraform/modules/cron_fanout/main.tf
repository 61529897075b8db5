# Pattern 2 — cron fan-out.
#
#   EventBridge schedule ─▶ counter ──PublishBatch ceil(depth/10)──▶ fan-out topic
#                             │ depth                                    │ one message each
#   producers ─▶ work queue ◀─┘                          worker (long-poll ≤10) ◀─┘
#                     │ invalid after maxReceiveCount            │ BatchWriteItem, key = message id
#                     ▼                                          ▼
#                    DLQ                                      items table
module "work_queue" {
  source = "../queue"

  name                       = "${var.context.name_prefix}-fanout-work"
  visibility_timeout_seconds = 6 * var.worker_timeout
  max_receive_count          = var.max_receive_count
  receive_wait_time_seconds  = var.receive_wait_seconds
}

module "items" {
  source = "../table"

  name          = "${var.context.name_prefix}-fanout-items"
  hash_key      = "message_id"
  ttl_attribute = "expires_at"
}

module "fanout_topic" {
  source = "../topic"

  name = "${var.context.name_prefix}-fanout"
}

module "tick" {
  source = "../schedule"

  name                = "${var.context.name_prefix}-fanout-tick"
  description         = "Starts the fan-out counter"
  schedule_expression = var.schedule_expression
  function_arn        = module.counter.arn
}

module "counter" {
  source  = "../function"
  context = var.context

  name        = "fanout-counter"
  description = "Publishes one fan-out message per 10 queued work items"
  folder      = "fanout_counter"
  timeout     = var.counter_timeout
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
}

module "worker" {
  source  = "../function"
  context = var.context

  name                 = "fanout-worker"
  description          = "Drains up to 10 work items into DynamoDB per fan-out message"
  folder               = "fanout_worker"
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
}

resource "aws_sns_topic_subscription" "worker" {
  topic_arn = module.fanout_topic.arn
  protocol  = "lambda"
  endpoint  = module.worker.arn
}
