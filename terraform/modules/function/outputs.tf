output "name" {
  description = "Function name."
  value       = module.lambda.lambda_function_name
}

output "arn" {
  description = "Function ARN (known at plan time; available once the function exists)."
  value       = local.arn
  depends_on  = [module.lambda]
}

output "role_name" {
  description = "Execution role name."
  value       = module.lambda.lambda_role_name
}

output "timeout" {
  description = "Function timeout in seconds (for visibility-timeout checks)."
  value       = var.timeout
}
