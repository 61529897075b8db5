output "state_bucket" {
  description = "State bucket (qp-terraform-state-<env>-<account id>): `make plan` and CI pass it to init as -backend-config=bucket=..."
  value       = module.state.name
}

output "plan_role_arn" {
  description = "Role terraform plan assumes: secret AWS_PLAN_ROLE_ARN of GitHub environment <env>-plan (dev, stg) and repository variable AWS_PLAN_ROLE_ARN_<ENV> (deploys from main)."
  value       = aws_iam_role.ci["plan"].arn
}

output "apply_role_arn" {
  description = "Role the environment's apply job assumes (environment secret AWS_APPLY_ROLE_ARN)."
  value       = aws_iam_role.ci["apply"].arn
}

output "scenarios_role_arn" {
  description = "Role the manual scenarios workflow assumes (secret AWS_SCENARIOS_ROLE_ARN of GitHub environment <env>-scenarios); null for prod, which has none."
  value       = try(aws_iam_role.ci["scenarios"].arn, null)
}
