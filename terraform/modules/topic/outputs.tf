output "arn" {
  description = "Topic ARN (known at plan time; available once the topic exists)."
  value       = local.arn
  depends_on  = [aws_sns_topic.this]
}

output "name" {
  description = "Topic name."
  value       = aws_sns_topic.this.name
}
