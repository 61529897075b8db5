# Validations carry SQS's documented limits (moto accepts what SQS refuses):
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
variable "name" {
  description = "Queue name without the .fifo suffix; the DLQ is \"<name>-dlq\"."
  type        = string
  validation {
    # SQS: up to 80 characters (".fifo" included), alphanumerics, hyphens and underscores; the
    # longest name here is the DLQ's "<name>-dlq.fifo", so <name> gets 80 - 9 = 71.
    condition     = can(regex("^[A-Za-z0-9_-]{1,71}$", var.name))
    error_message = "name: 1-71 characters of A-Z a-z 0-9 _ - (SQS names are at most 80 with \"-dlq.fifo\")."
  }
}

variable "fifo" {
  description = "Create FIFO queues (names get the .fifo suffix)."
  type        = bool
  default     = false
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout; at least 6x the consuming function's timeout."
  type        = number
  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds: SQS accepts whole seconds 0-43200 (12 hours)."
  }
}

variable "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  type        = number
  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count: SQS redrive policies accept maxReceiveCount 1-1000."
  }
}

variable "message_retention_seconds" {
  description = "How long the source queue keeps a message."
  type        = number
  default     = 345600
  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds: SQS accepts 60-1209600 (14 days)."
  }
}

variable "receive_wait_time_seconds" {
  description = "Default long-poll wait for ReceiveMessage."
  type        = number
  default     = 20
  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20 && floor(var.receive_wait_time_seconds) == var.receive_wait_time_seconds
    error_message = "receive_wait_time_seconds: SQS long polling waits 0-20 seconds."
  }
}

variable "tags" {
  description = "Tags for both queues."
  type        = map(string)
  default     = {}
}

variable "max_message_size" {
  description = "Largest message body in bytes; bigger payloads travel through S3."
  type        = number
  default     = 262144
  validation {
    # 1,048,576 bytes (1 MiB) since August 2025; it was 262,144.
    condition     = var.max_message_size >= 1024 && var.max_message_size <= 1048576 && floor(var.max_message_size) == var.max_message_size
    error_message = "max_message_size: SQS accepts 1024-1048576 bytes."
  }
}

variable "allow_send_from" {
  description = "AWS services allowed to send to the queue, each from one source ARN (e.g. an SNS topic, an S3 bucket)."
  type = list(object({
    service    = string
    source_arn = string
  }))
  default = []
}
