variable "name" {
  description = "Function name."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
}

variable "service" {
  description = "Powertools service name (logs, metrics, traces)."
  type        = string
}

variable "source_dir" {
  description = "Folder of the function: handler module and its requirements.txt."
  type        = string
}

variable "shared_dir" {
  description = "Folder of the project's shared package, added to the zip as shared/."
  type        = string
}

variable "artifacts_dir" {
  description = "Where built zips are written."
  type        = string
  default     = "builds"
}

variable "handler" {
  description = "Handler in module.function form."
  type        = string
  default     = "app.lambda_handler"
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"
}

variable "timeout" {
  description = "Function timeout in seconds."
  type        = number
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 256
}

variable "environment" {
  description = "Environment variables besides the Powertools ones."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; -1 for unreserved."
  type        = number
  default     = -1
}

variable "log_level" {
  description = "Powertools log level."
  type        = string
  default     = "INFO"
}

variable "metrics_namespace" {
  description = "CloudWatch metrics namespace."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention."
  type        = number
  default     = 30
}

variable "policy_statements" {
  description = "Least-privilege IAM statements (map of {effect, actions, resources}); no wildcard actions."
  type        = any
  default     = {}
}

variable "allowed_triggers" {
  description = "Resource-based permissions for services that invoke the function (module format)."
  type        = any
  default     = {}
}

variable "sqs_trigger" {
  description = "SQS event source: queue ARN, batch size, batching window and max concurrency (null = none)."
  type = object({
    queue_arn               = string
    batch_size              = number
    batching_window_seconds = optional(number, 0)
    maximum_concurrency     = optional(number)
  })
  default = null
}

variable "tags" {
  description = "Tags for the function and its role."
  type        = map(string)
  default     = {}
}
