# Pattern 3 — relay consumer.
#
#   S3 inbox ─ObjectCreated─▶ relay queue ◀─ receive/delete ─ consumer hop 1 ◀─ EventBridge schedule
#                                 │ DLQ                        │ async Invoke (baton: chain, hop)
#                                 ▼                            ▼
#                                DLQ                    consumer hop 2 … (while messages remain)
#   lease table: one chain at a time · results table: one item per processed object
locals {
  # Built from parts: the function may invoke itself without a cycle in the graph.
  function_arn = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${var.context.name_prefix}-relay-consumer"
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

module "inbox" {
  source = "../bucket"

  name          = "${var.context.name_prefix}-relay-inbox-${data.aws_caller_identity.current.account_id}"
  force_destroy = var.force_destroy
}

module "relay_queue" {
  source = "../queue"

  name                       = "${var.context.name_prefix}-relay"
  visibility_timeout_seconds = 6 * var.timeout
  max_receive_count          = var.max_receive_count
  allow_send_from            = [{ service = "s3.amazonaws.com", source_arn = module.inbox.arn }]
}

resource "aws_s3_bucket_notification" "inbox" {
  bucket = module.inbox.name

  queue {
    queue_arn = module.relay_queue.arn
    events    = ["s3:ObjectCreated:*"]
  }

  depends_on = [module.relay_queue] # its policy must let S3 send first
}

module "leases" {
  source = "../table"

  name          = "${var.context.name_prefix}-relay-leases"
  hash_key      = "lease_id"
  ttl_attribute = "expires_at"
}

module "results" {
  source = "../table"

  name          = "${var.context.name_prefix}-relay-results"
  hash_key      = "object_id"
  ttl_attribute = "expires_at"
}

module "tick" {
  source = "../schedule"

  name                = "${var.context.name_prefix}-relay-tick"
  description         = "Starts a relay chain unless one is running"
  schedule_expression = var.schedule_expression
  function_arn        = module.consumer.arn
}

module "consumer" {
  source  = "../function"
  context = var.context

  name                 = "relay-consumer"
  description          = "Drains the relay queue in a chain of self-invocations"
  service              = "relay-consumer"
  folder               = "relay_consumer"
  timeout              = var.timeout
  reserved_concurrency = 2 # the running hop, plus a schedule that finds the lease held
  # Each hop invokes the next through the Lambda API, so one chain is one request chain to
  # Lambda's recursive loop detection, which stops a chain whose function is invoked more than
  # 16 times (tracked through Lambda, SQS, SNS and S3) unless the function's recursion config is
  # Allow (https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html). A chain
  # runs up to max_hops (200) hops by design, so the relay allows recursion; its own bounds stay
  # the guard: max_hops, chain_budget_seconds, one lease (one chain at a time) and reserved
  # concurrency 2.
  recursive_loop = "Allow"
  environment = {
    RELAY_QUEUE_URL      = module.relay_queue.url
    LEASE_TABLE          = module.leases.name
    RESULTS_TABLE        = module.results.name
    MAX_HOPS             = tostring(var.max_hops)
    CHAIN_BUDGET_SECONDS = tostring(var.chain_budget_seconds)
    BATCHES_PER_HOP      = tostring(var.batches_per_hop)
  }
  policy_statements = {
    relay_queue = {
      effect    = "Allow"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [module.relay_queue.arn]
    }
    inbox = {
      effect    = "Allow"
      actions   = ["s3:GetObject"]
      resources = ["${module.inbox.arn}/*"]
    }
    leases = {
      effect    = "Allow"
      actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [module.leases.arn]
    }
    results = { # keyed by object version: a rewrite overwrites, so no idempotency records
      effect    = "Allow"
      actions   = ["dynamodb:BatchWriteItem"]
      resources = [module.results.arn]
    }
    relay = {
      effect    = "Allow"
      actions   = ["lambda:InvokeFunction"]
      resources = [local.function_arn]
    }
  }
  allowed_triggers = {
    schedule = {
      principal  = "events.amazonaws.com"
      source_arn = module.tick.rule_arn
    }
  }
}
