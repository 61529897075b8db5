output "rule_name" {
  description = "Rule name."
  value       = aws_cloudwatch_event_rule.this.name
}

output "rule_arn" {
  description = "Rule ARN (the source ARN of the function's invoke permission)."
  value       = aws_cloudwatch_event_rule.this.arn
}
