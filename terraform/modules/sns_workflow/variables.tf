variable "context" {
  description = "Settings every resource of the environment shares: modules/context's output (its shape is declared there)."
  type        = any
}

variable "services" {
  description = "Services by name: function folder, the stage it reads, and the service it hands on to (\"\" = none)."
  type = map(object({
    source      = string
    input_stage = string
    next        = optional(string, "")
  }))
  validation {
    condition     = alltrue([for k, s in var.services : s.next == "" || contains(keys(var.services), s.next)])
    error_message = "Every services[*].next must name another service."
  }
  validation {
    condition     = alltrue([for k in keys(var.services) : can(regex("^[a-z][a-z0-9-]{0,30}$", k)) && k != "all" && k != "preprocessor"])
    error_message = "Service names are lowercase (a-z, 0-9, -), and not \"all\" or \"preprocessor\"."
  }
}

variable "entry_service" {
  description = "Service the preprocessor hands new requests to (\"all\" = every service)."
  type        = string
}

variable "preprocessor_timeout" {
  description = "Preprocessor timeout in seconds."
  type        = number
}

variable "service_timeout" {
  description = "Service timeout in seconds; service queues' visibility is 6x this."
  type        = number
}

variable "service_batch_size" {
  description = "Records per service invocation."
  type        = number
}

variable "service_batching_window_seconds" {
  description = "Seconds a service queue's event source waits to fill a batch: a fuller batch shares one PublishBatch per topic, at up to this much latency per stage."
  type        = number
  default     = 2

  validation {
    condition     = var.service_batching_window_seconds >= 0 && var.service_batching_window_seconds <= 300
    error_message = "service_batching_window_seconds must be between 0 and 300 (AWS limit)."
  }
}

variable "payload_retention_days" {
  description = "Days offloaded (large) message payloads are kept under payloads/."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a message moves to its DLQ."
  type        = number
}

variable "idempotency_table_name" {
  description = "Powertools idempotency table (the preprocessor's starts with a client idempotency_key)."
  type        = string
}

variable "idempotency_table_arn" {
  description = "ARN of the idempotency table."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying the non-empty documents bucket (ephemeral environments only)."
  type        = bool
}

