variable "context" {
  description = "Settings every resource of the environment shares (see the root's local.context)."
  type = object({
    name_prefix        = string
    code_root          = string
    artifacts_dir      = string
    metrics_namespace  = string
    log_retention_days = number
    tags               = map(string)
    build_in_docker    = optional(bool, false)
    docker_image       = optional(string, "")
  })
}

variable "pool_size" {
  description = "Number of pool queues, each with its own dispatcher (N)."
  type        = number
  validation {
    condition     = var.pool_size >= 1 && var.pool_size <= 100
    error_message = "pool_size must be between 1 and 100."
  }
}

variable "queue_type" {
  description = "\"standard\" or \"fifo\" (FIFO pool queues, MessageGroupId = user)."
  type        = string
  default     = "standard"
  validation {
    condition     = contains(["standard", "fifo"], var.queue_type)
    error_message = "queue_type must be \"standard\" or \"fifo\"."
  }
}

variable "assignment_ttl_seconds" {
  description = "How long an idle user keeps its queue after its last message was applied."
  type        = number
}

variable "ingester_timeout" {
  description = "Ingester timeout in seconds."
  type        = number
}

variable "dispatcher_timeout" {
  description = "Dispatcher timeout in seconds; pool queue visibility is 6x this."
  type        = number
}

variable "dispatcher_batch_size" {
  description = "Records per dispatcher invocation."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a pool queue message moves to its DLQ."
  type        = number
}

variable "document_bucket_name" {
  description = "Bucket holding users/<user_id>.json."
  type        = string
}

variable "document_bucket_arn" {
  description = "ARN of the document bucket."
  type        = string
}

variable "idempotency_table_name" {
  description = "Powertools idempotency table."
  type        = string
}

variable "idempotency_table_arn" {
  description = "ARN of the idempotency table."
  type        = string
}

