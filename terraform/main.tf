# Architecture (one box per pattern; see README for the diagrams).
locals {
  name_prefix = "${var.project}-${var.environment}"
  context     = module.context.value
}

# What every pattern module and function shares.
module "context" {
  source = "./modules/context"

  name_prefix        = local.name_prefix
  code_root          = "${path.root}/.."
  artifacts_dir      = var.artifacts_dir
  log_retention_days = var.log_retention_days
}

data "aws_caller_identity" "current" {}

# --- shared data plane ---------------------------------------------------------------------

module "documents" {
  source = "./modules/bucket"

  name          = "${local.name_prefix}-documents-${data.aws_caller_identity.current.account_id}"
  force_destroy = var.environment == "local"
}

module "idempotency" {
  source = "./modules/table"

  name          = "${local.name_prefix}-idempotency"
  hash_key      = "id"
  ttl_attribute = "expiration"
}

# --- pattern 1: sticky-queue ingester + dispatchers ---------------------------------------

module "sticky_queue" {
  source                 = "./modules/sticky_queue"
  context                = local.context
  pool_size              = var.sticky.pool_size
  queues_kept            = var.sticky.queues_kept
  queue_type             = var.sticky.queue_type
  assignment_ttl_seconds = var.sticky.assignment_ttl_seconds
  ingester_timeout       = var.sticky.ingester_timeout
  dispatcher_timeout     = var.sticky.dispatcher_timeout
  dispatcher_batch_size  = var.sticky.dispatcher_batch_size
  max_receive_count      = var.max_receive_count
  document_bucket_name   = module.documents.name
  document_bucket_arn    = module.documents.arn

  dispatcher_batching_window_seconds = var.sticky.dispatcher_batching_window_seconds
  dispatcher_concurrency             = var.sticky.dispatcher_concurrency
  pool_message_retention_seconds     = var.sticky.pool_message_retention_seconds
}

# --- pattern 2: cron fan-out ---------------------------------------------------------------

module "cron_fanout" {
  source               = "./modules/cron_fanout"
  context              = local.context
  schedule_expression  = var.cron_fanout.schedule_expression
  max_workers          = var.cron_fanout.max_workers
  counter_timeout      = var.cron_fanout.counter_timeout
  worker_timeout       = var.cron_fanout.worker_timeout
  worker_concurrency   = var.cron_fanout.worker_concurrency
  receive_wait_seconds = var.cron_fanout.receive_wait_seconds
  max_receive_count    = var.max_receive_count
}

# --- pattern 3: relay consumer -------------------------------------------------------------

module "relay_consumer" {
  source               = "./modules/relay_consumer"
  context              = local.context
  schedule_expression  = var.relay.schedule_expression
  timeout              = var.relay.timeout
  max_hops             = var.relay.max_hops
  chain_budget_seconds = var.relay.chain_budget_seconds
  batches_per_hop      = var.relay.batches_per_hop
  max_receive_count    = var.max_receive_count
  force_destroy        = var.environment == "local"
}

# --- pattern 4: SNS preprocessor / services ------------------------------------------------

module "sns_workflow" {
  source  = "./modules/sns_workflow"
  context = local.context
  services = {
    enrich    = { source = "workflow_enrich", input_stage = "preprocessor", next = "summarize" }
    summarize = { source = "workflow_summarize", input_stage = "enrich" }
  }
  entry_service          = "enrich"
  preprocessor_timeout   = var.workflow.preprocessor_timeout
  service_timeout        = var.workflow.service_timeout
  service_batch_size     = var.workflow.service_batch_size
  payload_retention_days = var.workflow.payload_retention_days
  max_receive_count      = var.max_receive_count
  idempotency_table_name = module.idempotency.name
  idempotency_table_arn  = module.idempotency.arn
  force_destroy          = var.environment == "local"
}

# --- alarms: DLQs, queue age, function errors/throttles -> one topic per environment -------

module "alarms" {
  source = "./modules/alarms"

  name_prefix              = local.name_prefix
  region                   = var.region
  key_deletion_window_days = var.environment == "local" ? 7 : 30
  queues = merge(
    module.sticky_queue.monitored.queues,
    module.cron_fanout.monitored.queues,
    module.relay_consumer.monitored.queues,
    module.sns_workflow.monitored.queues,
  )
  functions = concat(
    module.sticky_queue.monitored.functions,
    module.cron_fanout.monitored.functions,
    module.relay_consumer.monitored.functions,
    module.sns_workflow.monitored.functions,
  )
  max_message_age_seconds = var.alarms.max_message_age_seconds
  alarm_emails            = var.alarms.emails
}
