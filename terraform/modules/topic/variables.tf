variable "name" {
  description = "Topic name."
  type        = string
}

variable "kms_master_key_id" {
  description = "KMS key for encryption at rest (alias or ARN)."
  type        = string
  default     = "alias/aws/sns"
}

variable "tags" {
  description = "Tags for the topic."
  type        = map(string)
  default     = {}
}
