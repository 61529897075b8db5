variable "name" {
  description = "Queue name without the .fifo suffix; the DLQ is \"<name>-dlq\"."
  type        = string
}

variable "fifo" {
  description = "Create FIFO queues (names get the .fifo suffix)."
  type        = bool
  default     = false
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout; at least 6x the consuming function's timeout."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  type        = number
  default     = 5
}

variable "message_retention_seconds" {
  description = "How long the source queue keeps a message."
  type        = number
  default     = 345600
}

variable "receive_wait_time_seconds" {
  description = "Default long-poll wait for ReceiveMessage."
  type        = number
  default     = 20
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
}

variable "allow_send_from" {
  description = "AWS services allowed to send to the queue, each from one source ARN (e.g. an SNS topic, an S3 bucket)."
  type = list(object({
    service    = string
    source_arn = string
  }))
  default = []
}
