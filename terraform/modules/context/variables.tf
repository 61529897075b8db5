variable "name_prefix" {
  description = "Prefix of every resource name (project-environment)."
  type        = string
  validation {
    # bucket and function names are built from it: lowercase letters, digits and hyphens
    condition     = can(regex("^[a-z0-9][a-z0-9-]*[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix: lowercase letters, digits and inner hyphens only."
  }
}

variable "code_root" {
  description = "Folder holding functions/ and shared/ (the repository root, relative to the calling root)."
  type        = string
}

variable "artifacts_dir" {
  description = "Where function zips are built."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for every function."
  type        = number
  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the retention periods CloudWatch Logs accepts (0 = never expire, 1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}
