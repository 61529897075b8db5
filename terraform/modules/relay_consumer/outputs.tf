output "inbox_bucket" {
  description = "Bucket whose new objects are processed."
  value       = module.inbox.name
}

output "relay_queue" {
  description = "Queue of S3 notifications, and its DLQ."
  value = {
    url     = module.relay_queue.url
    arn     = module.relay_queue.arn
    dlq_url = module.relay_queue.dlq_url
  }
}

output "lease_table_name" {
  description = "Table holding the chain lease."
  value       = module.leases.name
}

output "results_table_name" {
  description = "Table of processed objects."
  value       = module.results.name
}

output "schedule_rule_name" {
  description = "EventBridge rule that starts a chain."
  value       = module.tick.rule_name
}

output "function_name" {
  description = "Consumer function."
  value       = module.consumer.name
}

output "monitored" {
  description = "Queues and functions to alarm on (see modules/alarms)."
  value = {
    queues    = { relay = { name = module.relay_queue.name, dlq_name = module.relay_queue.dlq_name, age_alarm = true } }
    functions = [module.consumer.name]
  }
}
