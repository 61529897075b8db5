# Pattern 1 — sticky queues.
#
#   client ─invoke─▶ ingester ──▶ pool queue i ──▶ dispatcher i (concurrency 2) ──▶ S3 users/<id>.json
#                       │  ▲
#          assignments ◀┘  └── URL store queue (untriggered; hands out pool queue URLs)
#
# docs/sticky.md: exactly-once from the document's If-Match writes, assignments as leases,
# and the burst policy (reserved concurrency = ESM maximum concurrency, so no throttles).
locals {
  # Every queue that exists: the pool, and beyond it the queues a shrink keeps until drained.
  queue_count = max(var.pool_size, var.queues_kept)
  pool        = toset([for i in range(local.queue_count) : format("%02d", i)])
  fifo        = var.queue_type == "fifo"
  # FIFO event source mappings take at most 10 records and no batching window.
  batch_size      = local.fifo ? min(var.dispatcher_batch_size, 10) : var.dispatcher_batch_size
  batching_window = local.fifo ? 0 : var.dispatcher_batching_window_seconds
  # An assignment's lease outlives every message sent under it (see shared/assignments.py).
  lease_seconds    = var.pool_message_retention_seconds + var.assignment_ttl_seconds
  max_message_size = 262144 # bytes per pool queue message; the ingester refuses larger ones up front
  # The ingester derives every pool URL from queue 00's, so its environment stays the same
  # size whatever the pool's (Lambda allows 4 KB of environment variables).
  pool_url_template = replace(module.pool_queue["00"].url, "/-00(\\.fifo)?$/", "-{index}$1")
  # The pool's queues by name, ??, ??? ... one `?` per digit of the largest index: a statement
  # of constant size (a role's inline policies total 10,240 characters) that matches no DLQ.
  pool_arn_patterns = [
    for digits in range(2, max(2, length(tostring(local.queue_count - 1))) + 1) :
    replace(module.pool_queue["00"].arn, "/-00(\\.fifo)?$/", "-${join("", [for _ in range(digits) : "?"])}$1")
  ]
}

module "url_store" {
  source = "../queue"

  # One message, the rotation's cursor (UrlStoreCursor): a take receives it, puts back one
  # further on and deletes the one it received. The take's receive holds it for a few
  # seconds (STORE_HOLD_SECONDS in the ingester), shorter than this default, so a taker
  # that dies holding it hides it only that long.
  name                       = "${var.context.name_prefix}-sticky-url-store"
  visibility_timeout_seconds = 6 * var.ingester_timeout
  receive_wait_time_seconds  = 0
  message_retention_seconds  = 1209600
  # The cursor is received once per message (each take replaces it with a fresh one), so a
  # receive count above 1 means a taker died. It must never reach the DLQ: the most SQS
  # allows (maxReceiveCount 1-1000); the DLQ and its alarm show if it ever gets there.
  max_receive_count = 1000
}

module "pool_queue" {
  source   = "../queue"
  for_each = local.pool

  name                       = "${var.context.name_prefix}-sticky-pool-${each.key}"
  fifo                       = local.fifo
  visibility_timeout_seconds = 6 * var.dispatcher_timeout + local.batching_window # AWS: >= 6 x timeout + window
  message_retention_seconds  = var.pool_message_retention_seconds
  max_message_size           = local.max_message_size
  max_receive_count          = var.max_receive_count
}

module "assignments" {
  source = "../table"

  name          = "${var.context.name_prefix}-sticky-assignments"
  hash_key      = "user_id"
  ttl_attribute = "expires_at"
}

module "ingester" {
  source  = "../function"
  context = var.context

  name        = "sticky-ingester"
  description = "Routes each user's messages to its sticky pool queue"
  folder      = "sticky_ingester"
  timeout     = var.ingester_timeout
  environment = {
    ASSIGNMENT_TABLE         = module.assignments.name
    ASSIGNMENT_LEASE_SECONDS = tostring(local.lease_seconds)
    MAX_MESSAGE_BYTES        = tostring(local.max_message_size)
    URL_STORE_QUEUE_URL      = module.url_store.url
    POOL_QUEUE_URL_TEMPLATE  = local.pool_url_template
    POOL_SIZE                = tostring(var.pool_size)
  }
  policy_statements = {
    assignments = {
      effect    = "Allow"
      actions   = ["dynamodb:UpdateItem"]
      resources = [module.assignments.arn]
    }
    url_store = {
      effect    = "Allow"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage", "sqs:GetQueueAttributes"]
      resources = [module.url_store.arn]
    }
    pool = {
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = local.pool_arn_patterns
    }
  }
}

module "dispatcher" {
  source   = "../function"
  context  = var.context
  for_each = local.pool

  name        = "sticky-dispatcher-${each.key}"
  description = "Appends messages of pool queue ${each.key} to users' documents"
  service     = "sticky-dispatcher"
  folder      = "sticky_dispatcher"
  timeout     = var.dispatcher_timeout
  # Reserved = the mapping's maximum concurrency: the mapping never invokes more than the
  # function may run, so no batch is throttled and no receive is spent without an invocation
  # (docs/sticky.md, burst policy). Two writers per queue are safe: every document write is If-Match.
  reserved_concurrency = var.dispatcher_concurrency
  environment = {
    DOCUMENT_BUCKET = var.document_bucket_name
    QUEUE_TYPE      = var.queue_type
  }
  policy_statements = {
    documents = {
      effect    = "Allow"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${var.document_bucket_arn}/users/*"]
    }
    # Lets GetObject answer NoSuchKey instead of AccessDenied. No s3:prefix condition: that
    # implicit check lists nothing and carries no prefix, so a conditioned grant would not count.
    documents_list = {
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = [var.document_bucket_arn]
    }
  }
  sqs_trigger = {
    queue_arn               = module.pool_queue[each.key].arn
    batch_size              = local.batch_size
    batching_window_seconds = local.batching_window
    maximum_concurrency     = var.dispatcher_concurrency
  }
}
