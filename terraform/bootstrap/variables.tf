variable "environment" {
  description = "Environment whose state bucket and CI roles are created (dev, stg, prod)."
  type        = string
  validation {
    condition     = contains(["dev", "stg", "prod"], var.environment)
    error_message = "environment must be dev, stg or prod."
  }
}

variable "project" {
  description = "Project name, first part of every resource name of the main root (as its var.project): the plan role reads <project>-<env>-* only."
  type        = string
  default     = "qp"
}

variable "region" {
  description = "Region of the state bucket (as in environments/<env>.s3.tfbackend)."
  type        = string
  default     = "ap-northeast-1"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may assume the CI roles."
  type        = string
}

variable "create_oidc_provider" {
  description = "Create GitHub's OIDC provider (false if the account already has it)."
  type        = bool
  default     = true
}

variable "deploy_policy_arns" {
  description = "Managed policies for the apply role: your organisation's deploy permissions (never *FullAccess)."
  type        = list(string)
  validation {
    condition     = alltrue([for arn in var.deploy_policy_arns : !can(regex("FullAccess$|AdministratorAccess$", arn))])
    error_message = "Use a scoped deploy policy, not *FullAccess or AdministratorAccess."
  }
}
