# Pattern 1 — sticky queues.
#
#   client ─invoke─▶ ingester ──▶ pool queue i ──▶ dispatcher i (concurrency 1) ──▶ S3 users/<id>.json
#                       │  ▲
#          assignments ◀┘  └── URL store queue (untriggered; hands out pool queue URLs)
locals {
  pool = toset([for i in range(var.pool_size) : format("%02d", i)])
  fifo = var.queue_type == "fifo"
}

module "url_store" {
  source = "../queue"

  # The pool size is in the name: resizing the pool starts a fresh store, seeded lazily.
  name                       = "${var.context.name_prefix}-sticky-url-store-${var.pool_size}"
  visibility_timeout_seconds = 6 * var.ingester_timeout
  receive_wait_time_seconds  = 0
  message_retention_seconds  = 1209600
  # Each URL message is received once and replaced by a fresh copy (take_queue_url sends the
  # copy, then deletes the original), so only an ingester dying between its receive and its
  # delete counts a receive twice. The store must never lose a URL to its DLQ: the most SQS
  # allows (maxReceiveCount 1-1000); the DLQ and its alarm show if one ever gets there.
  max_receive_count = 1000
  tags              = var.context.tags
}

module "pool_queue" {
  source   = "../queue"
  for_each = local.pool

  name                       = "${var.context.name_prefix}-sticky-pool-${each.key}"
  fifo                       = local.fifo
  visibility_timeout_seconds = 6 * var.dispatcher_timeout
  max_receive_count          = var.max_receive_count
  tags                       = var.context.tags
}

module "assignments" {
  source = "../table"

  name          = "${var.context.name_prefix}-sticky-assignments"
  hash_key      = "user_id"
  ttl_attribute = "expires_at"
  tags          = var.context.tags
}

module "ingester" {
  source  = "../function"
  context = var.context

  name        = "sticky-ingester"
  description = "Routes each user's messages to its sticky pool queue"
  folder      = "sticky_ingester"
  timeout     = var.ingester_timeout
  environment = {
    ASSIGNMENT_TABLE    = module.assignments.name
    URL_STORE_QUEUE_URL = module.url_store.url
    POOL_QUEUE_URLS     = join(",", [for k in sort(tolist(local.pool)) : module.pool_queue[k].url])
  }
  policy_statements = {
    assignments = {
      effect    = "Allow"
      actions   = ["dynamodb:UpdateItem", "dynamodb:PutItem"]
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
      resources = [for q in module.pool_queue : q.arn]
    }
  }
}

module "dispatcher" {
  source   = "../function"
  context  = var.context
  for_each = local.pool

  name                 = "sticky-dispatcher-${each.key}"
  description          = "Appends messages of pool queue ${each.key} to users' documents"
  service              = "sticky-dispatcher"
  folder               = "sticky_dispatcher"
  timeout              = var.dispatcher_timeout
  reserved_concurrency = 1 # the pattern: one writer per queue, so never two writers per document
  environment = {
    DOCUMENT_BUCKET        = var.document_bucket_name
    ASSIGNMENT_TABLE       = module.assignments.name
    ASSIGNMENT_TTL_SECONDS = tostring(var.assignment_ttl_seconds)
    IDEMPOTENCY_TABLE      = var.idempotency_table_name
    QUEUE_TYPE             = var.queue_type
  }
  policy_statements = {
    documents = {
      effect    = "Allow"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${var.document_bucket_arn}/users/*"]
    }
    documents_list = { # lets GetObject answer NoSuchKey instead of AccessDenied
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = [var.document_bucket_arn]
    }
    assignments = {
      effect    = "Allow"
      actions   = ["dynamodb:UpdateItem"]
      resources = [module.assignments.arn]
    }
    idempotency = {
      effect    = "Allow"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [var.idempotency_table_arn]
    }
  }
  sqs_trigger = {
    queue_arn  = module.pool_queue[each.key].arn
    batch_size = var.dispatcher_batch_size
  }
}
