# Architecture (one box per pattern; see README for the diagrams).
locals {
  name_prefix       = "${var.project}-${var.environment}"
  code_root         = "${path.root}/.."
  metrics_namespace = "QueuePatterns"
  tags = {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  }
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
  source = "./modules/sticky_queue"

  name_prefix            = local.name_prefix
  code_root              = local.code_root
  artifacts_dir          = var.artifacts_dir
  pool_size              = var.sticky.pool_size
  queue_type             = var.sticky.queue_type
  assignment_ttl_seconds = var.sticky.assignment_ttl_seconds
  ingester_timeout       = var.sticky.ingester_timeout
  dispatcher_timeout     = var.sticky.dispatcher_timeout
  dispatcher_batch_size  = var.sticky.dispatcher_batch_size
  max_receive_count      = var.max_receive_count
  document_bucket_name   = module.documents.name
  document_bucket_arn    = module.documents.arn
  idempotency_table_name = module.idempotency.name
  idempotency_table_arn  = module.idempotency.arn
  metrics_namespace      = local.metrics_namespace
  log_retention_days     = var.log_retention_days
}
