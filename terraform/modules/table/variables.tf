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

variable "point_in_time_recovery" {
  description = "Enable point-in-time recovery."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
