output "name" {
  description = "Table name."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "Table ARN (known at plan time; available once the table exists)."
  value       = local.arn
  depends_on  = [aws_dynamodb_table.this]
}

output "protected" {
  description = "Whether the table has deletion protection."
  value       = aws_dynamodb_table.this.deletion_protection_enabled
}
