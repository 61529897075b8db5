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
