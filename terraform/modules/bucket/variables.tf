variable "name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying a non-empty bucket (ephemeral environments only)."
  type        = bool
  default     = false
}

variable "versioning" {
  description = "Keep previous object versions."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}

variable "expire_prefixes" {
  description = "Key prefix -> days after which objects under it (and their old versions) expire."
  type        = map(number)
  default     = {}
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept before it expires (recovery window)."
  type        = number
  default     = 7
  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "S3 needs at least 1 day for noncurrent version expiration."
  }
}
