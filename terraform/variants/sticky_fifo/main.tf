# The sticky-queue pattern again, on FIFO pool queues, under its own name prefix: a second root
# applied beside the main one on an emulator, so one emulator (one test session, one bench run)
# serves both sticky queue types with one deployment.
#
# variables.tf, providers.tf and versions.tf are links to the main root's: the variant takes
# exactly the main root's inputs (an environment's tfvars and -var overrides apply to both
# unchanged) and has no copy of their types or defaults. Terraform has no include, so a link is
# the way one root reads another's declarations. The sticky_queue call below is the main root's
# with queue_type = "fifo" (tests/test_terraform.py checks the two calls agree).
locals {
  name_prefix = "${var.project}-${var.environment}-fifo"
  context     = module.context.value
}

module "context" {
  source = "../../modules/context"

  name_prefix        = local.name_prefix
  code_root          = "${path.root}/../../.."
  artifacts_dir      = var.artifacts_dir
  log_retention_days = var.log_retention_days
}

module "documents" {
  source = "../../modules/bucket"

  name          = "${local.name_prefix}-documents"
  force_destroy = var.environment == "local"
}

module "sticky_queue" {
  source                 = "../../modules/sticky_queue"
  context                = local.context
  pool_size              = var.sticky.pool_size
  queues_kept            = var.sticky.queues_kept
  queue_type             = "fifo"
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

module "alarms" {
  source = "../../modules/alarms"

  name_prefix              = local.name_prefix
  region                   = var.region
  key_deletion_window_days = var.environment == "local" ? 7 : 30
  queues                   = module.sticky_queue.monitored.queues
  functions                = module.sticky_queue.monitored.functions
  max_message_age_seconds  = var.alarms.max_message_age_seconds
  alarm_emails             = var.alarms.emails
}
