output "topic_arn" {
  description = "The environment's alarm topic."
  value       = module.topic.arn
}

output "alarm_names" {
  description = "Every alarm created."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.dlq_not_empty : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.oldest_message_age : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.function : a.alarm_name],
  )
}

output "topic_key_arn" {
  description = "Customer-managed KMS key of the alarm topic (its policy grants CloudWatch)."
  value       = aws_kms_key.topic.arn
}
