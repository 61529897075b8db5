output "state_bucket" {
  description = "Bucket named in environments/<env>.s3.tfbackend."
  value       = module.state.name
}

output "plan_role_arn" {
  description = "Role pull-request workflows assume for terraform plan (secret AWS_PLAN_ROLE_ARN)."
  value       = aws_iam_role.ci["plan"].arn
}

output "apply_role_arn" {
  description = "Role the environment's apply job assumes (environment secret AWS_APPLY_ROLE_ARN)."
  value       = aws_iam_role.ci["apply"].arn
}
