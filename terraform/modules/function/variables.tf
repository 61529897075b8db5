variable "name" {
  description = "Function name without the <project>-<environment>- prefix."
  type        = string
}

variable "folder" {
  description = "Folder under functions/ holding the handler module and its requirements.txt."
  type        = string
}

variable "context" {
  description = "Settings every function of the environment shares: modules/context's output (its shape is declared there)."
  type        = any
}

variable "description" {
  description = "Function description."
  type        = string
}

variable "service" {
  description = "Powertools service name (logs, metrics, traces); defaults to the name."
  type        = string
  default     = null
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

variable "policy_statements" {
  description = "Least-privilege IAM statements (map of {effect, actions, resources}); no wildcard actions."
  type        = any
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

variable "recursive_loop" {
  description = "Lambda recursive loop detection: \"Allow\" lets the function run in a chain of its own invocations through Lambda, SQS, SNS or S3 past AWS's limit; null (the registry module's default) keeps AWS's default, Terminate."
  type        = string
  default     = null

  validation {
    condition     = contains(["Allow", "Terminate"], coalesce(var.recursive_loop, "Terminate"))
    error_message = "recursive_loop is null, \"Allow\" or \"Terminate\"."
  }
}
