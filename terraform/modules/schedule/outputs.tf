output "rule_name" {
  description = "Rule name."
  value       = aws_cloudwatch_event_rule.this.name
}

output "rule_arn" {
  description = "Rule ARN (the source ARN of the function's invoke permission; known at plan time)."
  value       = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/${var.name}"
  depends_on  = [aws_cloudwatch_event_rule.this]
}
