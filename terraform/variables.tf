variable "environment" {
  description = "Environment name: local, dev, stg or prod."
  type        = string
  validation {
    condition     = contains(["local", "dev", "stg", "prod"], var.environment)
    error_message = "environment must be one of local, dev, stg, prod."
  }
}

variable "project" {
  description = "Project name, first part of every resource name."
  type        = string
  default     = "qp"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "ap-northeast-1"
}

variable "emulator" {
  description = "True when applying to an emulator (skips account lookups, path-style S3)."
  type        = bool
  default     = false
}

variable "artifacts_dir" {
  description = "Where function zips are built."
  type        = string
  default     = "builds"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for every function."
  type        = number
  default     = 30
}

variable "max_receive_count" {
  description = "Receives before a message moves to its DLQ (every consumer queue)."
  type        = number
  default     = 5
}

variable "sticky" {
  description = "Sticky-queue pattern settings."
  type = object({
    pool_size              = number
    queues_kept            = optional(number, 0) # docs/sticky.md, pool resize: a shrink keeps queues until drained
    queue_type             = optional(string, "standard")
    assignment_ttl_seconds = optional(number, 300)
    ingester_timeout       = optional(number, 10)
    dispatcher_timeout     = optional(number, 30)
    dispatcher_batch_size  = optional(number, 100)
    # docs/sticky.md: batching window (standard queues), burst policy, assignment leases
    dispatcher_batching_window_seconds = optional(number, 5)
    dispatcher_concurrency             = optional(number, 2)
    pool_message_retention_seconds     = optional(number, 345600)
  })
  default = { pool_size = 4 }
  validation {
    condition     = contains(["standard", "fifo"], var.sticky.queue_type)
    error_message = "sticky.queue_type must be \"standard\" or \"fifo\"."
  }
  validation {
    condition     = var.sticky.pool_size >= 1 && floor(var.sticky.pool_size) == var.sticky.pool_size
    error_message = "sticky.pool_size must be a whole number of queues, at least 1."
  }
  validation {
    # Each dispatcher reserves dispatcher_concurrency, the fan-out worker worker_concurrency and
    # the relay 2; Lambda keeps 100 of the account's concurrency unreserved.
    condition = (max(var.sticky.pool_size, var.sticky.queues_kept) * var.sticky.dispatcher_concurrency + max(var.cron_fanout.worker_concurrency, 0) + 2
    <= var.lambda_concurrency_limit - 100)
    error_message = "sticky.pool_size x sticky.dispatcher_concurrency (${var.sticky.pool_size} x ${var.sticky.dispatcher_concurrency}) plus the fan-out worker's ${max(var.cron_fanout.worker_concurrency, 0)} and the relay's 2 reserve more than the ${var.lambda_concurrency_limit - 100} of lambda_concurrency_limit (${var.lambda_concurrency_limit}) that Lambda lets an account reserve."
  }
}

variable "lambda_concurrency_limit" {
  description = "The account's Lambda concurrent executions quota in this Region (AWS's default: 1,000); reserved concurrency may total at most this minus 100."
  type        = number
  default     = 1000
}

variable "cron_fanout" {
  description = "Cron fan-out pattern settings."
  type = object({
    schedule_expression  = optional(string, "rate(5 minutes)")
    max_workers          = optional(number, 100)
    counter_timeout      = optional(number, 30)
    worker_timeout       = optional(number, 30)
    worker_concurrency   = optional(number, 20)
    receive_wait_seconds = optional(number, 5)
  })
  default = {}
}

variable "relay" {
  description = "Relay consumer pattern settings."
  type = object({
    schedule_expression  = optional(string, "rate(5 minutes)")
    timeout              = optional(number, 60)
    max_hops             = optional(number, 200)
    chain_budget_seconds = optional(number, 900)
    batches_per_hop      = optional(number, 5)
  })
  default = {}
}

variable "workflow" {
  description = "SNS preprocessor/services pattern settings."
  type = object({
    preprocessor_timeout   = optional(number, 10)
    service_timeout        = optional(number, 30)
    service_batch_size     = optional(number, 10)
    payload_retention_days = optional(number, 14)
  })
  default = {}
}

variable "alarms" {
  description = "Alarm settings: oldest-message age threshold and who is told."
  type = object({
    max_message_age_seconds = optional(number, 900)
    emails                  = optional(list(string), [])
  })
  default = {}
}
