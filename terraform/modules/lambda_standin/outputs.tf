output "lambda_function_arn" {
  description = "The ARN of the Lambda Function."
  value       = aws_lambda_function.this.arn
}

output "lambda_function_name" {
  description = "The name of the Lambda Function."
  value       = aws_lambda_function.this.function_name
}

output "lambda_function_invoke_arn" {
  description = "The Invoke ARN of the Lambda Function."
  value       = aws_lambda_function.this.invoke_arn
}

output "lambda_role_arn" {
  description = "The ARN of the IAM role created for the Lambda Function."
  value       = aws_iam_role.this.arn
}

output "lambda_role_name" {
  description = "The name of the IAM role created for the Lambda Function."
  value       = aws_iam_role.this.name
}

output "lambda_cloudwatch_log_group_name" {
  description = "The name of the Cloudwatch Log Group."
  value       = aws_cloudwatch_log_group.this.name
}

output "lambda_event_source_mapping_uuid" {
  description = "The UUID of the created event source mapping."
  value       = { for k, v in aws_lambda_event_source_mapping.this : k => v.uuid }
}

output "local_filename" {
  description = "The filename of zip archive deployed."
  value       = local.zip_path
}
