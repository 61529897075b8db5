variable "name_prefix" {
  description = "Prefix of every resource name (project-environment)."
  type        = string
}

variable "region" {
  description = "Region of the alarms (their ARNs scope who may publish to the alarm topic)."
  type        = string
}

variable "key_deletion_window_days" {
  description = "Days a deleted alarm-topic key stays recoverable (KMS allows 7-30)."
  type        = number
  validation {
    condition     = var.key_deletion_window_days >= 7 && var.key_deletion_window_days <= 30
    error_message = "KMS accepts a deletion window of 7-30 days."
  }
}

variable "queues" {
  description = "Queues to watch: key -> {name, dlq_name, age_alarm}. age_alarm = false for a queue whose reader is outside this system (a client that may read rarely): its age says nothing about us."
  type = map(object({
    name      = string
    dlq_name  = string
    age_alarm = bool
  }))
}

variable "functions" {
  description = "Functions whose errors and throttles raise an alarm."
  type        = list(string)
}

variable "max_message_age_seconds" {
  description = "Alarm when a queue's oldest message is older than this."
  type        = number
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by email)."
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
