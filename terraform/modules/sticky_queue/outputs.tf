output "ingester_function_name" {
  description = "Function clients invoke to ingest messages."
  value       = module.ingester.name
}

output "dispatcher_function_names" {
  description = "Dispatcher per pool queue."
  value       = { for k, f in module.dispatcher : k => f.name }
}

output "pool_queues" {
  description = "Pool queues with their DLQs, visibility and consumer timeout."
  value = { for k, q in module.pool_queue : k => {
    url                        = q.url
    arn                        = q.arn
    dlq_url                    = q.dlq_url
    visibility_timeout_seconds = q.visibility_timeout_seconds
    consumer_timeout           = module.dispatcher[k].timeout
  } }
}

output "dispatcher_scaling" {
  description = "What each dispatcher's event source mapping uses (docs/sticky.md, burst policy)."
  value = {
    batch_size              = local.batch_size
    batching_window_seconds = local.batching_window
    maximum_concurrency     = var.dispatcher_concurrency
    reserved_concurrency    = var.dispatcher_concurrency
  }
}

output "url_store_queue_url" {
  description = "The untriggered URL store queue."
  value       = module.url_store.url
}

output "assignment_table_name" {
  description = "User -> queue assignments."
  value       = module.assignments.name
}

output "monitored" {
  description = "Queues and functions to alarm on (see modules/alarms)."
  value = {
    queues = merge(
      { for k, q in module.pool_queue : "sticky-pool-${k}" => { name = q.name, dlq_name = q.dlq_name, age_alarm = true } },
      # URLs wait in the store by design: no age alarm.
      { sticky-url-store = { name = module.url_store.name, dlq_name = module.url_store.dlq_name, age_alarm = false } },
    )
    functions = concat([module.ingester.name], [for f in module.dispatcher : f.name])
  }
}
