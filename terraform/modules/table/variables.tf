variable "name" {
  description = "Table name."
  type        = string
}

variable "hash_key" {
  description = "Name of the string partition key."
  type        = string
}

variable "ttl_attribute" {
  description = "Attribute holding the expiry epoch seconds."
  type        = string
}

variable "protect_data" {
  description = "Deletion protection (and, unless point_in_time_recovery says otherwise, PITR). null = only where the provider's default tag Environment is prod."
  type        = bool
  default     = null
}

variable "point_in_time_recovery" {
  description = "Enable point-in-time recovery. null = as protect_data decides."
  type        = bool
  default     = null
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
