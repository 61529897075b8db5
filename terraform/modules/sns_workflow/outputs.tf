output "document_bucket" {
  description = "Bucket of requests/<id>/<stage>.json documents and offloaded payloads."
  value       = module.documents.name
}

output "connector_topic_arn" {
  description = "Publish {request_id} here with attribute service=<name>|all to start a service."
  value       = module.connector.arn
}

output "notifier_topic_arn" {
  description = "Topic of ServiceResult messages."
  value       = module.notifier.arn
}

output "preprocessor_function_name" {
  description = "Preprocessor function."
  value       = module.preprocessor.name
}

output "service_queues" {
  description = "Queue (and DLQ) of each service."
  value       = { for k, q in module.service_queue : k => { url = q.url, arn = q.arn, dlq_url = q.dlq_url } }
}

output "service_function_names" {
  description = "Function of each service."
  value       = { for k, f in module.service : k => f.name }
}

output "results_queue" {
  description = "Queue subscribed (raw) to the notifier, and its DLQ."
  value       = { url = module.results_queue.url, dlq_url = module.results_queue.dlq_url }
}

output "monitored" {
  description = "Queues and functions to alarm on (see modules/alarms)."
  value = {
    queues = merge(
      { for k, q in module.service_queue : "workflow-${k}" => { name = q.name, dlq_name = q.dlq_name, age_alarm = true } },
      # No age alarm on the results queue: its reader is the client that started the workflow,
      # outside this system, so an old message there is the client's backlog (always true while
      # nobody reads it), not a fault of ours. Its DLQ alarm stays.
      { workflow-results = { name = module.results_queue.name, dlq_name = module.results_queue.dlq_name, age_alarm = false } },
    )
    functions = concat([module.preprocessor.name], [for f in module.service : f.name])
  }
}
