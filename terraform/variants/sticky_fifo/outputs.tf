output "document_bucket" {
  description = "Bucket of per-user documents (the variant's own)."
  value       = module.documents.name
}

output "sticky_queue" {
  description = "Sticky-queue pattern on FIFO pool queues: ingester, dispatchers, pool queues."
  value = {
    ingester_function_name    = module.sticky_queue.ingester_function_name
    dispatcher_function_names = module.sticky_queue.dispatcher_function_names
    pool_queues               = module.sticky_queue.pool_queues
    url_store_queue_url       = module.sticky_queue.url_store_queue_url
    assignment_table_name     = module.sticky_queue.assignment_table_name
  }
}
