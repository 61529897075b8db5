variable "name_prefix" {
  description = "Prefix of every resource name (project-environment)."
  type        = string
}

variable "queues" {
  description = "Queues to watch: key -> {name, dlq_name, age_alarm}."
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
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
