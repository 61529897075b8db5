output "url" {
  description = "Queue URL."
  value       = aws_sqs_queue.this.url
}

output "arn" {
  description = "Queue ARN (known at plan time; available once the queue exists)."
  value       = local.source_arn
  depends_on  = [aws_sqs_queue.this]
}

output "name" {
  description = "Queue name."
  value       = aws_sqs_queue.this.name
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the queue."
  value       = aws_sqs_queue.this.visibility_timeout_seconds
}

output "dlq_url" {
  description = "Dead-letter queue URL."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "Dead-letter queue ARN."
  value       = local.dlq_arn
  depends_on  = [aws_sqs_queue.dlq]
}

output "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  value       = var.max_receive_count
}

output "dlq_name" {
  description = "Dead-letter queue name."
  value       = aws_sqs_queue.dlq.name
}
