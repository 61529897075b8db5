variable "name" {
  description = "Rule name."
  type        = string
}

variable "description" {
  description = "What the schedule starts."
  type        = string
}

variable "schedule_expression" {
  description = "rate(...) or cron(...) expression."
  type        = string
}

variable "function_arn" {
  description = "Function the rule invokes."
  type        = string
}

variable "tags" {
  description = "Tags for the rule."
  type        = map(string)
  default     = {}
}
