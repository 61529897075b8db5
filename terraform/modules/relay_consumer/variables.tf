variable "context" {
  description = "Settings every resource of the environment shares: modules/context's output (its shape is declared there)."
  type        = any
}

variable "schedule_expression" {
  description = "EventBridge schedule that starts a chain, e.g. rate(5 minutes)."
  type        = string
}

variable "timeout" {
  description = "Consumer timeout in seconds; the relay queue's visibility is 6x this."
  type        = number
}

variable "max_hops" {
  description = "Hops after which a chain stops (the next schedule continues)."
  type        = number
}

variable "chain_budget_seconds" {
  description = "Seconds after which a chain stops relaying (the next schedule continues)."
  type        = number
}

variable "batches_per_hop" {
  description = "Receives of up to 10 messages per hop."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a notification moves to the DLQ."
  type        = number
}

variable "force_destroy" {
  description = "Allow destroying the non-empty inbox bucket (ephemeral environments only)."
  type        = bool
}

