# Same names and types as terraform-aws-modules/lambda 8.8.1 (checked by tests/test_terraform.py against tests/reference/).
variable "function_name" {
  description = "A unique name for your Lambda Function."
  type        = string
  default     = ""
}

variable "description" {
  description = "Description of your Lambda Function."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Lambda Function entrypoint in your code."
  type        = string
  default     = ""
}

variable "runtime" {
  description = "Lambda Function runtime."
  type        = string
  default     = ""
}

variable "architectures" {
  description = "Instruction set architecture for your Lambda function."
  type        = list(string)
  default     = null
}

variable "timeout" {
  description = "The amount of time your Lambda Function has to run in seconds."
  type        = number
  default     = 3
}

variable "memory_size" {
  description = "Amount of memory in MB your Lambda Function can use at runtime."
  type        = number
  default     = 128
}

variable "source_path" {
  description = "The absolute path to a local file or directory containing your Lambda source code."
  type        = any
  default     = null
}

variable "artifacts_dir" {
  description = "Directory name where artifacts should be stored."
  type        = string
  default     = "builds"
}

variable "trigger_on_package_timestamp" {
  description = "Whether to recreate the Lambda package if the timestamp changes."
  type        = bool
  default     = true
}

variable "environment_variables" {
  description = "A map that defines environment variables for the Lambda Function."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrent_executions" {
  description = "The amount of reserved concurrent executions for this Lambda Function. -1 removes the limit."
  type        = number
  default     = -1
}

variable "tracing_mode" {
  description = "Tracing mode of the Lambda Function. Valid value can be either PassThrough or Active."
  type        = string
  default     = null
}

variable "attach_tracing_policy" {
  description = "Controls whether X-Ray tracing policy should be added to IAM role for Lambda Function."
  type        = bool
  default     = false
}

variable "logging_log_format" {
  description = "The log format of the Lambda Function. Valid values are JSON or Text."
  type        = string
  default     = "Text"
}

variable "cloudwatch_logs_retention_in_days" {
  description = "Specifies the number of days you want to retain log events in the specified log group."
  type        = number
  default     = null
}

variable "attach_policy_statements" {
  description = "Controls whether policy_statements should be added to IAM role for Lambda Function."
  type        = bool
  default     = false
}

variable "policy_statements" {
  description = "Map of dynamic policy statements to attach to Lambda Function role."
  type        = any
  default     = {}
}

variable "create_current_version_allowed_triggers" {
  description = "Whether to allow triggers on current version of Lambda Function."
  type        = bool
  default     = true
}

variable "create_unqualified_alias_allowed_triggers" {
  description = "Whether to allow triggers on unqualified alias pointing to $LATEST version."
  type        = bool
  default     = true
}

variable "allowed_triggers" {
  description = "Map of allowed triggers to create Lambda permissions."
  type        = map(any)
  default     = {}
}

variable "event_source_mapping" {
  description = "Map of event source mapping."
  type        = any
  default     = {}
}

variable "recursive_loop" {
  description = "Lambda function recursion configuration. Valid values are Allow or Terminate."
  type        = string
  default     = null
}

variable "tags" {
  description = "A map of tags to assign to resources."
  type        = map(string)
  default     = {}
}

# --- the switches the real module's creation conditions read (same defaults as 8.8.1) -----

variable "create" {
  description = "Controls whether resources should be created."
  type        = bool
  default     = true
}

variable "putin_khuylo" {
  description = "Part of the real module's local.create (see its README); must stay true."
  type        = bool
  default     = true
}

variable "create_function" {
  description = "Controls whether Lambda Function resource should be created."
  type        = bool
  default     = true
}

variable "create_layer" {
  description = "Controls whether Lambda Layer resource should be created."
  type        = bool
  default     = false
}

variable "create_role" {
  description = "Controls whether IAM role for Lambda Function should be created."
  type        = bool
  default     = true
}

variable "create_package" {
  description = "Controls whether Lambda package should be created."
  type        = bool
  default     = true
}

variable "lambda_role" {
  description = "IAM role ARN attached to the Lambda Function when create_role is false."
  type        = string
  default     = ""
}

variable "role_name" {
  description = "Name of IAM role to use for Lambda Function."
  type        = string
  default     = null
}

variable "policy_name" {
  description = "IAM policy name. It override the default value, which is the same as role_name."
  type        = string
  default     = null
}

variable "attach_cloudwatch_logs_policy" {
  description = "Controls whether CloudWatch Logs policy should be added to IAM role for Lambda Function."
  type        = bool
  default     = true
}

variable "use_existing_cloudwatch_log_group" {
  description = "Whether to use an existing CloudWatch log group or create new."
  type        = bool
  default     = false
}

variable "ignore_source_code_hash" {
  description = "Whether to ignore changes to the function's source code hash."
  type        = bool
  default     = false
}

variable "hash_extra" {
  description = "The string to add into hashing function. Useful when building same source path for different functions."
  type        = string
  default     = ""
}

variable "build_in_docker" {
  description = "Whether to build dependencies in Docker."
  type        = bool
  default     = false
}

variable "docker_image" {
  description = "Docker image to use for the build."
  type        = string
  default     = ""
}
