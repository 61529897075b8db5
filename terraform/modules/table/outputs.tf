output "name" {
  description = "Table name."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "Table ARN."
  value       = aws_dynamodb_table.this.arn
}

output "protected" {
  description = "Whether the table has deletion protection."
  value       = aws_dynamodb_table.this.deletion_protection_enabled
}
