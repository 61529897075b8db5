output "work_queue" {
  description = "The work queue producers send to, and its DLQ."
  value = {
    url     = module.work_queue.url
    arn     = module.work_queue.arn
    dlq_url = module.work_queue.dlq_url
  }
}

output "items_table_name" {
  description = "Table the workers write items to (key: SQS message id)."
  value       = module.items.name
}

output "topic_arn" {
  description = "Fan-out topic."
  value       = module.fanout_topic.arn
}

output "schedule_rule_name" {
  description = "EventBridge rule that starts the counter."
  value       = module.tick.rule_name
}

output "counter_function_name" {
  description = "Counter function."
  value       = module.counter.name
}

output "worker_function_name" {
  description = "Worker function."
  value       = module.worker.name
}

output "monitored" {
  description = "Queues and functions to alarm on (see modules/alarms)."
  value = {
    queues    = { fanout-work = { name = module.work_queue.name, dlq_name = module.work_queue.dlq_name, age_alarm = true } }
    functions = [module.counter.name, module.worker.name]
  }
}
