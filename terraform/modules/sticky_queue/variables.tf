variable "context" {
  description = "Settings every resource of the environment shares: modules/context's output (its shape is declared there)."
  type        = any
}

variable "pool_size" {
  description = "Number of pool queues, each with its own dispatcher (N)."
  type        = number
  validation {
    # The bound is Lambda's: each dispatcher reserves concurrency (checked by the root, which
    # knows the account's quota). Queues, functions and the assignment check have no lower one.
    condition     = var.pool_size >= 1
    error_message = "pool_size must be at least 1."
  }
}

variable "queues_kept" {
  description = "Queues (with their dispatchers) that exist even beyond pool_size: the first apply of a shrink keeps the queues leaving the pool until they are drained (docs/sticky.md, pool resize)."
  type        = number
  validation {
    condition     = var.queues_kept >= 0 && floor(var.queues_kept) == var.queues_kept
    error_message = "queues_kept must be a whole number, 0 or more."
  }
}

variable "queue_type" {
  description = "\"standard\" or \"fifo\" (FIFO pool queues, MessageGroupId = user)."
  type        = string
  validation {
    condition     = contains(["standard", "fifo"], var.queue_type)
    error_message = "queue_type must be \"standard\" or \"fifo\"."
  }
}

variable "assignment_ttl_seconds" {
  description = "Grace after the pool queues' retention: a user's lease is retention + this, from its last ingest."
  type        = number
}

variable "pool_message_retention_seconds" {
  description = "Pool queue message retention; an assignment's lease is at least this (see shared/assignments.py)."
  type        = number
  validation {
    condition     = var.pool_message_retention_seconds >= 60 && var.pool_message_retention_seconds <= 1209600
    error_message = "pool_message_retention_seconds must be 60..1209600 (SQS)."
  }
}

variable "ingester_timeout" {
  description = "Ingester timeout in seconds."
  type        = number
}

variable "dispatcher_timeout" {
  description = "Dispatcher timeout in seconds; pool queue visibility is 6x this plus the batching window."
  type        = number
}

variable "dispatcher_batch_size" {
  description = "Most records per dispatcher invocation (FIFO: at most 10 are used)."
  type        = number
  validation {
    condition     = var.dispatcher_batch_size >= 1 && var.dispatcher_batch_size <= 10000
    error_message = "dispatcher_batch_size must be 1..10000 (SQS event source mapping)."
  }
}

variable "dispatcher_batching_window_seconds" {
  description = "How long a standard-queue mapping gathers records before invoking (FIFO: none); latency traded for requests."
  type        = number
  validation {
    condition     = var.dispatcher_batching_window_seconds >= 0 && var.dispatcher_batching_window_seconds <= 300
    error_message = "dispatcher_batching_window_seconds must be 0..300."
  }
}

variable "dispatcher_concurrency" {
  description = "Reserved concurrency of each dispatcher, and the maximum concurrency of its mapping (2..1000)."
  type        = number
  validation {
    condition     = var.dispatcher_concurrency >= 2 && var.dispatcher_concurrency <= 1000
    error_message = "dispatcher_concurrency must be 2..1000 (the mapping's maximum concurrency)."
  }
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
