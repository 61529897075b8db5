# Same expressions as the real module's outputs.tf (8.8.1) for the outputs the project reads.
output "lambda_function_arn" {
  description = "The ARN of the Lambda Function."
  value       = try(aws_lambda_function.this[0].arn, "")
}

output "lambda_function_name" {
  description = "The name of the Lambda Function."
  value       = try(aws_lambda_function.this[0].function_name, "")
}

output "lambda_function_invoke_arn" {
  description = "The Invoke ARN of the Lambda Function."
  value       = try(aws_lambda_function.this[0].invoke_arn, "")
}

output "lambda_role_arn" {
  description = "The ARN of the IAM role created for the Lambda Function."
  value       = try(aws_iam_role.lambda[0].arn, "")
}

output "lambda_role_name" {
  description = "The name of the IAM role created for the Lambda Function."
  value       = try(aws_iam_role.lambda[0].name, "")
}

output "lambda_cloudwatch_log_group_name" {
  description = "The name of the Cloudwatch Log Group."
  value       = local.log_group_name
}

output "lambda_event_source_mapping_uuid" {
  description = "The UUID of the created event source mapping."
  value       = { for k, v in aws_lambda_event_source_mapping.this : k => v.uuid }
}

output "local_filename" {
  description = "The filename of zip archive deployed."
  value       = local.filename
}
