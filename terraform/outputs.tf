output "environment" {
  description = "Environment applied."
  value       = var.environment
}

output "document_bucket" {
  description = "Bucket of per-user documents."
  value       = module.documents.name
}

output "idempotency_table" {
  description = "Powertools idempotency table."
  value       = module.idempotency.name
}

output "sticky_queue" {
  description = "Sticky-queue pattern: ingester, dispatchers, pool queues."
  value = {
    ingester_function_name    = module.sticky_queue.ingester_function_name
    dispatcher_function_names = module.sticky_queue.dispatcher_function_names
    pool_queues               = module.sticky_queue.pool_queues
    url_store_queue_url       = module.sticky_queue.url_store_queue_url
    assignment_table_name     = module.sticky_queue.assignment_table_name
  }
}

output "cron_fanout" {
  description = "Cron fan-out pattern: work queue, items table, schedule, functions."
  value       = module.cron_fanout
}

output "relay_consumer" {
  description = "Relay consumer pattern: inbox bucket, relay queue, lease and results tables, schedule."
  value       = module.relay_consumer
}

output "sns_workflow" {
  description = "SNS workflow pattern: documents bucket, connector/notifier topics, service queues."
  value       = module.sns_workflow
}

output "alarms" {
  description = "Alarm topic and alarm names."
  value       = module.alarms
}
