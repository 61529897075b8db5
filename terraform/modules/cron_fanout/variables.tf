variable "context" {
  description = "Settings every resource of the environment shares: modules/context's output (its shape is declared there)."
  type        = any
}

variable "schedule_expression" {
  description = "EventBridge schedule of the counter, e.g. rate(5 minutes)."
  type        = string
}

variable "max_workers" {
  description = "Cap on fan-out messages (workers) per tick."
  type        = number
  validation {
    condition     = var.max_workers >= 1
    error_message = "max_workers must be at least 1."
  }
}

variable "counter_timeout" {
  description = "Counter timeout in seconds."
  type        = number
}

variable "worker_timeout" {
  description = "Worker timeout in seconds; the work queue's visibility is 6x this."
  type        = number
}

variable "worker_concurrency" {
  description = "Reserved concurrency of the worker (-1 = unreserved); protects the table and the account."
  type        = number
}

variable "receive_wait_seconds" {
  description = "Worker long-poll wait (1-20 s); never 0 (short polls miss messages)."
  type        = number
  validation {
    condition     = var.receive_wait_seconds >= 1 && var.receive_wait_seconds <= 20
    error_message = "receive_wait_seconds must be 1-20: workers always long-poll."
  }
}

variable "max_receive_count" {
  description = "Receives before a work item moves to the DLQ."
  type        = number
}

