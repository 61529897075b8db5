variable "name" {
  description = "Topic name."
  type        = string
}

variable "kms_master_key_id" {
  description = "KMS key for encryption at rest (alias or ARN). AWS services publishing to the topic (service_publishers) need a customer-managed key whose policy grants them; alias/aws/sns grants no service."
  type        = string
  default     = "alias/aws/sns"
}

variable "service_publishers" {
  description = "AWS service principal -> ARN pattern (aws:SourceArn) of the resources on whose behalf it may publish, in this account only."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for the topic."
  type        = map(string)
  default     = {}
}
