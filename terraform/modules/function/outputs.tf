output "name" {
  description = "Function name."
  value       = module.lambda.lambda_function_name
}

output "arn" {
  description = "Function ARN."
  value       = module.lambda.lambda_function_arn
}

output "role_name" {
  description = "Execution role name."
  value       = module.lambda.lambda_role_name
}

output "timeout" {
  description = "Function timeout in seconds (for visibility-timeout checks)."
  value       = var.timeout
}
